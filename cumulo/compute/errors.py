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

from cumulo.exception import Conflict, Invalid, NotFound, OverQuota, register


@register
class ValidationError(Invalid):
    message = "%(detail)s"


@register
class InvalidName(Invalid):
    message = "An invalid 'name' value was provided. The name must be: %(reason)s"


@register
class InvalidKeypair(Invalid):
    message = "Keypair data is invalid: %(reason)s"


@register
class FlavorMarkerNotFound(Invalid):
    message = "marker [%(marker)s] not found"


@register
class KeypairMarkerNotFound(Invalid):
    message = "Marker %(marker)s could not be found."


@register
class KeypairLimitExceeded(OverQuota):
    message = "Quota exceeded, too many key pairs."


@register
class FlavorNotFound(NotFound):
    message = "Flavor %(flavor_id)s could not be found."


@register
class FlavorAccessNotFound(NotFound):
    message = "Flavor access not found for %(flavor_id)s / %(project_id)s combination."


@register
class FlavorAccessListPublic(NotFound):
    message = "Access list not available for public flavors."


@register
class FlavorExtraSpecNotFound(NotFound):
    message = "Flavor %(flavor_id)s has no extra specs with key %(key)s."


@register
class KeypairNotFound(NotFound):
    message = "Keypair %(name)s not found for user %(user_id)s"


@register
class FlavorExists(Conflict):
    message = "Flavor with name %(name)s already exists."


@register
class FlavorIdExists(Conflict):
    message = "Flavor with ID %(flavor_id)s already exists."


@register
class FlavorAccessExists(Conflict):
    message = (
        "Flavor access already exists for flavor %(flavor_id)s and project "
        "%(project_id)s combination."
    )


@register
class FlavorIsPublic(Conflict):
    message = "Can not add access to a public flavor."


@register
class KeyPairExists(Conflict):
    message = "Key pair '%(key_name)s' already exists."
