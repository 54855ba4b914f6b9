"""The errors the image API raises, with Glance's wording."""

from __future__ import annotations

from cumulo import exception


class ImageNotFound(exception.NotFound):
    message = "No image found with ID %(image_id)s"


class ImageDataNotFound(exception.NotFound):
    message = "The requested image has no data."


class ImageProtected(exception.Forbidden):
    message = "Image %(image_id)s is protected and cannot be deleted."


class ReadOnlyAttribute(exception.Forbidden):
    message = "Attribute '%(name)s' is read-only."


class ReservedAttribute(exception.Forbidden):
    message = "Attribute '%(name)s' is reserved."


class ImageDeactivated(exception.Forbidden):
    message = "The requested image has been deactivated. Image data download is forbidden."


class InvalidStatusTransition(exception.Conflict):
    message = "Image status transition from %(current)s to %(new)s is not allowed"


class ImageTooLarge(exception.PayloadTooLarge):
    message = "Image exceeds the storage quota: %(reason)s"


class InvalidImageData(exception.Invalid):
    message = "Image data is not acceptable: %(reason)s"
