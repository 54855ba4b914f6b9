"""Identity errors, worded as Keystone words them.

    Invalid (400)
     └── ExpectingToFind            "Expecting to find auth in request body. …"
    NotAuthenticated (401)          "The request you have made requires authentication."
     └── AuthMethodNotSupported
    Forbidden (403)                 "You are not authorized to perform the requested action."
     ├── ForbiddenAction            "… requested action: identity:create_project."
     └── RegionInUse
    NotFound (404)
     ├── DomainNotFound, ProjectNotFound, UserNotFound, RoleNotFound,
     ├── TokenNotFound, RegionNotFound, ServiceNotFound, EndpointNotFound
     └── RoleAssignmentNotFound
    Conflict (409)
     └── DuplicateEntry             "Conflict occurred attempting to store project - …"

Every 401 carries the same message whatever went wrong (unknown user, wrong
password, disabled project, no role): Keystone hides the reason from the caller.
"""

from __future__ import annotations

from cumulo import exception


class ExpectingToFind(exception.Invalid):
    message = (
        "Expecting to find %(attribute)s in %(target)s. The server could not comply with "
        "the request since it is either malformed or otherwise incorrect. The client is "
        "assumed to be in error."
    )


class AuthMethodNotSupported(exception.NotAuthenticated):
    message = "Attempted to authenticate with an unsupported method."


class ForbiddenAction(exception.Forbidden):
    message = "You are not authorized to perform the requested action: %(action)s."


class DomainNotFound(exception.NotFound):
    message = "Could not find domain: %(domain_id)s."


class ProjectNotFound(exception.NotFound):
    message = "Could not find project: %(project_id)s."


class UserNotFound(exception.NotFound):
    message = "Could not find user: %(user_id)s."


class RoleNotFound(exception.NotFound):
    message = "Could not find role: %(role_id)s."


class TokenNotFound(exception.NotFound):
    message = "Could not find token: %(token_id)s."


class RegionNotFound(exception.NotFound):
    message = "Could not find region: %(region_id)s."


class ServiceNotFound(exception.NotFound):
    message = "Could not find service: %(service_id)s."


class EndpointNotFound(exception.NotFound):
    message = "Could not find endpoint: %(endpoint_id)s."


class RoleAssignmentNotFound(exception.NotFound):
    message = (
        "Could not find role assignment with role: %(role_id)s, user or group: "
        "%(actor_id)s, project, domain, or system: %(target_id)s."
    )


class RegionInUse(exception.Forbidden):
    message = (
        "Unable to delete region %(region_id)s because it or its child regions have "
        "associated endpoints."
    )


class DuplicateEntry(exception.Conflict):
    message = "Conflict occurred attempting to store %(type)s - %(details)s."

    @classmethod
    def named(
        cls, kind: str, name: str, domain_id: str | None = None, field: str = "name"
    ) -> DuplicateEntry:
        details = f"Duplicate entry found with {field} {name}"
        if domain_id:
            details += f" at domain ID {domain_id}"
        return cls(type=kind, details=details)
