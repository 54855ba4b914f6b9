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


class ImageSizeLimitExceeded(exception.PayloadTooLarge):
    """Over ``image_size_cap`` (Glance: ``ImageSizeLimitExceeded`` through ``LimitingReader``)."""

    message = "The incoming image is too large: The provided image is too large."


class StorageQuotaFull(exception.PayloadTooLarge):
    """Over the project's ``quota_image_size_total`` (Glance: ``StorageQuotaFull``)."""

    message = (
        "Image exceeds the storage quota: The size of the data %(image_size)s will "
        "exceed the limit. %(remaining)s bytes remaining."
    )


class ImageGone(exception.CumuloError):
    """The image was deleted while its data was being uploaded."""

    code = 410
    message = (
        "Image %(image_id)s could not be found after upload. The image may have been "
        "deleted during the upload, cleaning up the chunks uploaded."
    )


class SignatureVerificationFailed(exception.Invalid):
    message = "Signature verification failed for image %(image_id)s: %(reason)s"


class UploadInterrupted(exception.Invalid):
    message = "The client disconnected during the upload."


class InvalidImageData(exception.Invalid):
    message = "Image data is not acceptable: %(reason)s"
