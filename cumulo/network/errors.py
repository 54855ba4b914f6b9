"""Network errors, named and worded as Neutron's (the class name is the ``type``)."""

from __future__ import annotations

from cumulo import exception


class InvalidInput(exception.InvalidInput):
    """Neutron's wording; a subclass, so the bus still maps the name to the base class."""

    message = "Invalid input for operation: %(error_message)s."


class NetworkNotFound(exception.NotFound):
    message = "Network %(net_id)s could not be found."


class SubnetNotFound(exception.NotFound):
    message = "Subnet %(subnet_id)s could not be found."


class PortNotFound(exception.NotFound):
    message = "Port %(port_id)s could not be found."


class NetworkInUse(exception.Conflict):
    message = (
        "Unable to complete operation on network %(net_id)s. "
        "There are one or more ports still in use on the network."
    )


class SubnetInUse(exception.Conflict):
    message = (
        "Unable to complete operation on subnet %(subnet_id)s: "
        "One or more ports have an IP allocation from this subnet."
    )


class IpAddressGenerationFailure(exception.Conflict):
    message = "No more IP addresses available on network %(net_id)s."


class IpAddressAlreadyAllocated(exception.Conflict):
    message = "IP address %(ip)s already allocated in subnet %(subnet_id)s"


class MacAddressInUse(exception.Conflict):
    message = (
        "Unable to complete operation for network %(net_id)s. The mac address %(mac)s is in use."
    )


class InvalidIpForNetwork(exception.Invalid):
    message = (
        "IP address %(ip_address)s is not a valid IP for any of the subnets "
        "on the specified network."
    )


class InvalidIpForSubnet(exception.Invalid):
    message = "IP address %(ip_address)s is not a valid IP for the specified subnet."


class ExtensionNotFound(exception.NotFound):
    message = "Extension with alias %(extension_alias)s does not exist"


class SecurityGroupNotFound(exception.NotFound):
    message = "Security group %(id)s does not exist"


class SecurityGroupRuleNotFound(exception.NotFound):
    message = "Security group rule %(id)s does not exist"


class SecurityGroupRuleExists(exception.Conflict):
    message = "Security group rule already exists. Rule id is %(rule_id)s."


class SecurityGroupCannotRemoveDefault(exception.Conflict):
    message = "Insufficient rights for removing default security group."


class SecurityGroupInUse(exception.Conflict):
    message = "Security Group %(id)s in use."


class SecurityGroupInvalidPortRange(exception.Invalid):
    message = "For TCP/UDP protocols, port_range_min must be <= port_range_max"


class SecurityGroupRemoteGroupAndRemoteIpPrefix(exception.Invalid):
    message = "Only remote_ip_prefix or remote_group_id may be provided."


class SecurityGroupRuleParameterConflict(exception.Invalid):
    message = "Conflicting value ethertype %(ethertype)s for CIDR %(cidr)s"


class SecurityGroupRuleInvalidProtocol(exception.Invalid):
    message = (
        "Security group rule protocol %(protocol)s not supported. Only protocol values "
        "%(values)s and integer representations [0 to 255] are supported."
    )


class PortSecurityAndIPRequiredForSecurityGroups(exception.Invalid):
    message = (
        "Port security must be enabled and port must have an IP address in order "
        "to use security groups."
    )


class OverQuota(exception.OverQuota):
    """Neutron's quota error is a 409; a subclass, so the bus still maps the name to the base."""

    code = 409
    message = "Quota exceeded for resources: %(overs)s."


class BadRequest(exception.Invalid):
    message = "Bad %(resource)s request: %(msg)s."


class RouterNotFound(exception.NotFound):
    message = "Router %(router_id)s could not be found"


class RouterInUse(exception.Conflict):
    message = "Router %(router_id)s %(reason)s"


class RouterInterfaceNotFound(exception.NotFound):
    message = "Router %(router_id)s does not have an interface with id %(port_id)s"


class RouterInterfaceNotFoundForSubnet(exception.NotFound):
    message = "Router %(router_id)s has no interface on subnet %(subnet_id)s"


class RouterInterfaceInUseByFloatingIP(exception.Conflict):
    message = (
        "Router interface for subnet %(subnet_id)s on router %(router_id)s cannot be "
        "deleted, as it is required by one or more floating IPs."
    )


class RouterExternalGatewayInUseByFloatingIp(exception.Conflict):
    message = (
        "Gateway cannot be updated for router %(router_id)s, since a gateway to external "
        "network %(net_id)s is required by one or more floating IPs."
    )


class FloatingIPNotFound(exception.NotFound):
    message = "Floating IP %(floatingip_id)s could not be found"


class ExternalGatewayForFloatingIPNotFound(exception.NotFound):
    message = (
        "External network %(external_network_id)s is not reachable from subnet "
        "%(subnet_id)s.  Therefore, cannot associate Port %(port_id)s with a Floating IP."
    )


class FloatingIPPortAlreadyAssociated(exception.Conflict):
    message = (
        "Cannot associate floating IP %(floating_ip_address)s (%(fip_id)s) with port "
        "%(port_id)s using fixed IP %(fixed_ip)s, as that fixed IP already has a floating IP "
        "on external network %(net_id)s."
    )


class PortInUse(exception.Conflict):
    message = (
        "Unable to complete operation on port %(port_id)s for network %(net_id)s. "
        "Port already has an attached device %(device_id)s."
    )


class ServicePortInUse(exception.Conflict):
    message = (
        "Port %(port_id)s cannot be deleted directly via the port API: "
        "has device owner %(device_owner)s."
    )
