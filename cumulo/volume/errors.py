"""The errors the volume API raises, with Cinder's wording and status codes.

Invalid (400)
 ├── InvalidInput              "Invalid input received: …"
 ├── InvalidVolume             "Invalid volume: …"
 ├── ImageUnacceptable         "Image … is unacceptable: …"
 ├── InvalidAvailabilityZone
 └── InvalidImageRef           bad or inaccessible ``imageRef``
NotFound (404)
 ├── VolumeNotFound, VolumeTypeNotFound, VolumeTypeNotFoundByName
 └── VolumeAttachmentNotFound
Conflict (409)
 └── VolumeTypeExists
QuotaError (413, Cinder's ``overLimit``)
 ├── VolumeLimitExceeded               too many volumes
 ├── VolumeSizeExceedsAvailableQuota   too many gigabytes
 └── VolumeSizeExceedsLimit            one volume above ``per_volume_gigabytes``
"""

from __future__ import annotations

from cumulo import exception


class InvalidInput(exception.Invalid):
    message = "Invalid input received: %(reason)s"


class InvalidVolume(exception.Invalid):
    message = "Invalid volume: %(reason)s"


class ImageUnacceptable(exception.Invalid):
    message = "Image %(image_id)s is unacceptable: %(reason)s"


class InvalidAvailabilityZone(exception.Invalid):
    message = "Availability zone '%(az)s' is invalid."


class InvalidImageRef(exception.Invalid):
    message = "Invalid image identifier or unable to access requested image."


class VolumeNotFound(exception.NotFound):
    message = "Volume %(volume_id)s could not be found."


class VolumeTypeNotFound(exception.NotFound):
    message = "Volume type %(volume_type_id)s could not be found."


class VolumeTypeNotFoundByName(exception.NotFound):
    message = "Volume type with name %(volume_type_name)s could not be found."


class VolumeAttachmentNotFound(exception.NotFound):
    message = "Volume attachment could not be found with filter: attachment_id = %(id)s."


class VolumeTypeExists(exception.Conflict):
    message = "Volume Type %(id)s already exists."


class QuotaError(exception.PayloadTooLarge):
    message = "Quota exceeded: code=413"


class VolumeLimitExceeded(QuotaError):
    message = "Maximum number of volumes allowed (%(allowed)d) exceeded for quota '%(name)s'."


class VolumeSizeExceedsAvailableQuota(QuotaError):
    message = (
        "Requested volume or snapshot exceeds allowed %(name)s quota. Requested "
        "%(requested)sG, quota is %(quota)sG and %(consumed)sG has been consumed."
    )


class VolumeSizeExceedsLimit(QuotaError):
    message = "Requested volume size %(size)dG is larger than maximum allowed limit %(limit)dG."
