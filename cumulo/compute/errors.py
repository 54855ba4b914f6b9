"""The errors of the compute API, worded as Nova words them.

    CumuloError
     ├── Invalid                          400
     │    ├── ValidationError             a schema said no ("%(detail)s")
     │    ├── InvalidName
     │    ├── InvalidKeypair
     │    ├── FlavorMarkerNotFound
     │    └── KeypairMarkerNotFound
     ├── Forbidden                        403
     │    └── OverQuota
     │         └── KeypairLimitExceeded
     ├── NotFound                         404
     │    ├── FlavorNotFound
     │    ├── FlavorAccessNotFound
     │    ├── FlavorAccessListPublic
     │    ├── FlavorExtraSpecNotFound
     │    └── KeypairNotFound
     └── Conflict                         409
          ├── FlavorExists
          ├── FlavorIdExists
          ├── FlavorAccessExists
          ├── FlavorIsPublic
          └── KeyPairExists

``cumulo.api.errors`` renders each one in Nova's fault dialect.
"""

from __future__ import annotations

from cumulo.exception import Conflict, CumuloError, Forbidden, Invalid, NotFound, OverQuota


class ValidationError(Invalid):
    message = "%(detail)s"


class InvalidName(Invalid):
    message = "An invalid 'name' value was provided. The name must be: %(reason)s"


class InvalidKeypair(Invalid):
    message = "Keypair data is invalid: %(reason)s"


class FlavorMarkerNotFound(Invalid):
    message = "marker [%(marker)s] not found"


class KeypairMarkerNotFound(Invalid):
    message = "Marker %(marker)s could not be found."


class KeypairLimitExceeded(OverQuota):
    message = "Quota exceeded, too many key pairs."


class FlavorNotFound(NotFound):
    message = "Flavor %(flavor_id)s could not be found."


class FlavorAccessNotFound(NotFound):
    message = "Flavor access not found for %(flavor_id)s / %(project_id)s combination."


class FlavorAccessListPublic(NotFound):
    message = "Access list not available for public flavors."


class FlavorExtraSpecNotFound(NotFound):
    message = "Flavor %(flavor_id)s has no extra specs with key %(key)s."


class KeypairNotFound(NotFound):
    message = "Keypair %(name)s not found for user %(user_id)s"


class FlavorExists(Conflict):
    message = "Flavor with name %(name)s already exists."


class FlavorIdExists(Conflict):
    message = "Flavor with ID %(flavor_id)s already exists."


class FlavorAccessExists(Conflict):
    message = (
        "Flavor access already exists for flavor %(flavor_id)s and project "
        "%(project_id)s combination."
    )


class FlavorIsPublic(Conflict):
    message = "Can not add access to a public flavor."


class KeyPairExists(Conflict):
    message = "Key pair '%(key_name)s' already exists."


# --- servers, server groups, hosts -------------------------------------------------------


class MarkerNotFound(Invalid):
    message = "marker [%(marker)s] not found"


class InstanceNotFound(NotFound):
    message = "Instance %(instance_id)s could not be found."


class InstanceActionNotFound(NotFound):
    message = "Action for request_id %(request_id)s on instance %(instance_uuid)s not found"


class InstanceGroupNotFound(NotFound):
    message = "Instance group %(group_uuid)s could not be found."


class ServiceNotFound(NotFound):
    message = "Service %(service_id)s could not be found."


class ComputeHostNotFound(NotFound):
    message = "Compute host %(host)s could not be found."


class HypervisorNotFound(NotFound):
    message = "Hypervisor with ID '%(hypervisor_id)s' could not be found."


class InstanceInvalidState(Conflict):
    message = "Cannot '%(action)s' instance %(instance_uuid)s while it is in %(attr)s %(state)s"


# --- the build of an instance on its host ------------------------------------------------


class RescheduledException(CumuloError):
    """The build failed on this host and may succeed on another."""

    message = "Build of instance %(instance_uuid)s was re-scheduled: %(reason)s"


class BuildAbortException(CumuloError):
    """The build failed in a way no other host would avoid."""

    message = "Build of instance %(instance_uuid)s aborted: %(reason)s"


# --- server create ------------------------------------------------------------------------


class FlavorNotFoundForBoot(Invalid):
    message = FlavorNotFound.message


class InstanceGroupNotFoundForBoot(Invalid):
    message = InstanceGroupNotFound.message


class ImageNotFoundForBoot(Invalid):
    message = "Can not find requested image"


class ImageNotActive(Invalid):
    message = "Image %(image_id)s is not active."


class MissingImageRef(Invalid):
    message = "Missing imageRef attribute"


class FlavorDiskSmallerThanImage(Invalid):
    message = (
        "Flavor's disk is too small for requested image. Flavor disk is %(flavor_size)i bytes, "
        "image is %(image_size)i bytes."
    )


class FlavorDiskSmallerThanMinDisk(Invalid):
    message = (
        "Flavor's disk is smaller than the minimum size specified in image metadata. Flavor "
        "disk is %(flavor_size)i bytes, minimum size is %(image_min_disk)i bytes."
    )


class FlavorMemoryTooSmall(Invalid):
    message = "Flavor's memory is too small for requested image."


class BootFromVolumeRequiredForZeroDiskFlavor(Forbidden):
    message = "Only volume-backed servers are allowed for flavors with zero disk."


class InvalidKeyName(Invalid):
    message = "Invalid key_name provided."


class InvalidUserData(Invalid):
    message = "User data needs to be valid base 64."


class InvalidAvailabilityZone(Invalid):
    message = "The requested availability zone is not available"


class MetadataLimitExceeded(Forbidden):
    message = "Quota exceeded for metadata items: maximum number of %(allowed)d exceeded"


class TooManyInstances(OverQuota):
    message = (
        "Quota exceeded for %(overs)s: Requested %(req)s, but already used %(used)s of "
        "%(allowed)s %(overs)s"
    )


class GroupMemberQuotaExceeded(OverQuota):
    message = "Quota exceeded, too many servers in group"


class InvalidBDM(Invalid):
    message = "Block Device Mapping is Invalid: %(details)s"


class InvalidBDMBootSequence(InvalidBDM):
    message = (
        "Block Device Mapping is Invalid: Boot sequence for the instance and image/block "
        "device mapping combination is not valid."
    )


class InvalidBDMVolume(InvalidBDM):
    message = "Block Device Mapping is Invalid: failed to get volume %(id)s."


class InvalidBDMImage(InvalidBDM):
    message = "Block Device Mapping is Invalid: failed to get image %(id)s."


class InvalidBDMSnapshot(InvalidBDM):
    message = "Block Device Mapping is Invalid: failed to get snapshot %(id)s."


class InvalidBDMLocalsLimit(InvalidBDM):
    message = (
        "Block Device Mapping is Invalid: You specified more local devices than the limit allows"
    )


class InvalidVolume(Invalid):
    message = "Invalid volume: %(reason)s"


class InstanceIsLocked(Conflict):
    message = "Instance %(instance_uuid)s is locked"


class InstanceNotReady(Conflict):
    message = "Instance %(instance_id)s is not ready"
