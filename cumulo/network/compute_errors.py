"""Errors of the compute-facing API, named and worded as Nova's, coded as its servers API.

Nova raises these from ``nova/network/neutron.py`` and ``POST /servers`` turns
each into the status in the tree below, so the compute API re-raises them
as they come off the bus. Their names clash with Neutron's (``NetworkNotFound``
is a 404 there, a 400 here); the bus keys errors by qualified name, so both live.
Nova's ``FixedIpInvalidOnHost`` is for routed networks' segments, which cumulo
has not; an address outside the network is Nova's ``InvalidInput``, here
``FixedIpInvalidForNetwork``.

    Invalid (400)
     ├── InvalidInput
     │    └── FixedIpInvalidForNetwork    fixed IP outside the network's subnets
     ├── PortNotFound                     (a NotFound in Nova, a 400 from POST /servers)
     ├── NetworkNotFound                  (likewise)
     ├── SecurityGroupNotFound            (likewise)
     ├── PortNotUsable                    another project's port, or bound to another host
     ├── PortRequiresFixedIP
     ├── NetworkRequiresSubnet
     ├── SecurityGroupCannotBeApplied
     ├── FixedIpAlreadyInUse
     └── UnableToAutoAllocateNetwork
    Forbidden (403)
     ├── ExternalNetworkAttachForbidden
     └── OverQuota
          └── PortLimitExceeded
    Conflict (409)
     ├── PortInUse
     ├── NetworkAmbiguous
     └── NoUniqueMatch
    CumuloError (500)
     └── NoMoreFixedIps                   only at build time: the build fails
"""

from __future__ import annotations

from cumulo import exception


class FixedIpInvalidForNetwork(exception.InvalidInput):
    """Nova's ``InvalidInput`` for Neutron's ``InvalidIpForNetwork`` (``_create_port_minimal``)."""

    message = (
        "Invalid input received: Fixed IP %(ip)s is not a valid ip address for "
        "network %(network_id)s."
    )


class PortNotFound(exception.Invalid):
    message = "Port id %(port_id)s could not be found."


class NetworkNotFound(exception.Invalid):
    message = "Network %(network_id)s could not be found."


class SecurityGroupNotFound(exception.Invalid):
    message = "Security group %(security_group_id)s not found."


class PortNotUsable(exception.Invalid):
    message = "Port %(port_id)s not usable for instance %(instance)s."


class PortRequiresFixedIP(exception.Invalid):
    message = "Port %(port_id)s requires a FixedIP in order to be used."


class NetworkRequiresSubnet(exception.Invalid):
    message = "Network %(network_uuid)s requires a subnet in order to boot instances on."


class SecurityGroupCannotBeApplied(exception.Invalid):
    message = (
        "Network requires port_security_enabled and subnet associated in order to "
        "apply security groups."
    )


class FixedIpAlreadyInUse(exception.Invalid):
    message = "Fixed IP address %(address)s is already in use on instance %(instance_uuid)s."


class UnableToAutoAllocateNetwork(exception.Invalid):
    message = "Unable to automatically allocate a network for project %(project_id)s"


class ExternalNetworkAttachForbidden(exception.Forbidden):
    message = "It is not allowed to create an interface on external network %(network_uuid)s"


class PortLimitExceeded(exception.OverQuota):
    message = "Maximum number of ports exceeded"


class PortInUse(exception.Conflict):
    message = "Port %(port_id)s is still in use."


class NetworkAmbiguous(exception.Conflict):
    message = "Multiple possible networks found, use a Network ID to be more specific."


class NoUniqueMatch(exception.Conflict):
    message = "No Unique Match Found."


class NoMoreFixedIps(exception.CumuloError):
    message = "No fixed IP addresses available for network: %(net)s"
