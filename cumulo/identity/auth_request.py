"""The body of ``POST /v3/auth/tokens``, checked the way Keystone checks it.

Keystone validates the body against a JSON schema first (types, required
keys), then a few "id or name must be present" rules, then the method and
scope rules; each step has its own wording, reproduced here because clients
show these messages to people. The result is a small typed ``AuthRequest``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from cumulo import exception
from cumulo.api.validation import SchemaValidationError
from cumulo.identity.errors import AuthMethodNotSupported, ExpectingToFind

SUPPORTED_METHODS = ("password", "token")
SCOPE_KINDS = "system, project, domain, OS-TRUST:trust or unscoped"


@dataclass(frozen=True)
class Shape:
    """A fragment of JSON schema: the types allowed and, for objects, known properties."""

    types: tuple[str, ...]
    properties: dict[str, Shape] = field(default_factory=dict)
    items: Shape | None = None
    required: tuple[str, ...] = ()


_STRING = Shape(("string",))
_REF = Shape(("object",), {"id": _STRING, "name": _STRING})
_USER = Shape(("object",), {"id": _STRING, "name": _STRING, "password": _STRING, "domain": _REF})
_IDENTITY = Shape(
    ("object",),
    {
        "methods": Shape(("array",), items=_STRING),
        "password": Shape(("object",), {"user": _USER}),
        "token": Shape(("object",), {"id": _STRING}, required=("id",)),
    },
    required=("methods",),
)
_SCOPE = Shape(
    ("object", "string"),
    {
        "project": Shape(("object",), {"name": _STRING, "id": _STRING, "domain": _REF}),
        "domain": _REF,
        "OS-TRUST:trust": Shape(("object",), {"id": _STRING}),
        "system": Shape(("object",), {"all": Shape(("boolean",))}),
    },
)
AUTH_SHAPE = Shape(("object",), {"identity": _IDENTITY, "scope": _SCOPE}, required=("identity",))

_PY_TYPES: dict[str, type | tuple[type, ...]] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
}


def _schema_error(path: list[str], value: Any, detail: str) -> exception.Invalid:
    if not path:
        return exception.Invalid(detail)
    return SchemaValidationError("/".join(path), value, detail)


def check_shape(value: Any, shape: Shape, path: list[str]) -> None:
    """Raise the first schema violation, in the order jsonschema reports it."""
    if not any(isinstance(value, _PY_TYPES[t]) for t in shape.types):
        names = shape.types[0] if len(shape.types) == 1 else list(shape.types)
        raise _schema_error(path, value, f"{value!r} is not of type {names!r}")
    if isinstance(value, dict):
        for key, sub in shape.properties.items():
            if key in value:
                check_shape(value[key], sub, [*path, key])
        for key in shape.required:
            if key not in value:
                raise _schema_error(path, value, f"{key!r} is a required property")
    if isinstance(value, list) and shape.items is not None:
        for index, item in enumerate(value):
            check_shape(item, shape.items, [*path, str(index)])


@dataclass(frozen=True)
class Ref:
    """An entity named by id, or by name (with the domain that holds the name)."""

    id: str | None = None
    name: str | None = None
    domain: Ref | None = None


@dataclass(frozen=True)
class PasswordAuth:
    user: Ref
    password: str | None


@dataclass(frozen=True)
class ScopeRequest:
    kind: Literal["project", "domain", "system", "unscoped"]
    target: Ref | None = None


@dataclass(frozen=True)
class AuthRequest:
    methods: tuple[str, ...]
    password: PasswordAuth | None = None
    token: str | None = None
    scope: ScopeRequest | None = None


def _ref(data: dict[str, Any] | None) -> Ref | None:
    if data is None:
        return None
    return Ref(id=data.get("id"), name=data.get("name"), domain=_ref(data.get("domain")))


def _require_id_or_name(data: dict[str, Any] | None, where: str) -> None:
    if data is not None and "id" not in data and "name" not in data:
        raise exception.Invalid(f"Invalid input for field {where}: id or name must be present.")


def _presence_rules(auth: dict[str, Any]) -> None:
    user = auth["identity"].get("password", {}).get("user")
    _require_id_or_name(user, "identity/password/user")
    _require_id_or_name((user or {}).get("domain"), "identity/password/user/domain")
    scope = auth.get("scope")
    if isinstance(scope, dict):
        project = scope.get("project")
        _require_id_or_name(project, "scope/project")
        _require_id_or_name((project or {}).get("domain"), "scope/project/domain")
        _require_id_or_name(scope.get("domain"), "scope/domain")


def _methods(identity: dict[str, Any]) -> tuple[str, ...]:
    methods = tuple(dict.fromkeys(identity["methods"]))
    for name in methods:
        if name not in identity:
            raise ExpectingToFind(attribute=name, target="identity")
    if any(name not in SUPPORTED_METHODS for name in methods):
        raise AuthMethodNotSupported()
    return methods


def _scope(scope: dict[str, Any] | str | None) -> ScopeRequest | None:
    if scope is None:
        return None
    kinds = ("project", "domain", "unscoped", "system", "OS-TRUST:trust")
    if sum(kind in scope for kind in kinds) != 1:
        raise ExpectingToFind(attribute=SCOPE_KINDS, target="scope")
    if isinstance(scope, str) or "unscoped" in scope:
        return ScopeRequest("unscoped")
    if "system" in scope:
        return ScopeRequest("system")
    if "OS-TRUST:trust" in scope:
        raise exception.Forbidden("Trusts are disabled.")
    if "domain" in scope:
        return ScopeRequest("domain", _ref(scope["domain"]))
    project = scope["project"]
    if "name" in project and "id" not in project and "domain" not in project:
        raise ExpectingToFind(attribute="domain", target="project")
    return ScopeRequest("project", _ref(project))


def _password(payload: dict[str, Any]) -> PasswordAuth:
    if "user" not in payload:
        raise ExpectingToFind(attribute="user", target="password")
    user = payload["user"]
    if not user.get("id") and not user.get("name"):
        raise ExpectingToFind(attribute="id or name", target="user")
    if not user.get("id") and "domain" not in user:
        raise ExpectingToFind(attribute="domain", target="user")
    ref = _ref(user)
    assert ref is not None
    return PasswordAuth(user=ref, password=user.get("password"))


def parse_auth_request(body: Any) -> AuthRequest:
    """``body`` (the whole JSON document) as an ``AuthRequest``, or Keystone's 400."""
    auth = body.get("auth") if isinstance(body, dict) else None
    if auth is None:
        raise ExpectingToFind(attribute="auth", target="request body")
    check_shape(auth, AUTH_SHAPE, [])
    _presence_rules(auth)
    identity = auth["identity"]
    methods = _methods(identity)
    scope = _scope(auth.get("scope"))
    password = _password(identity["password"]) if "password" in methods else None
    token = identity["token"]["id"] if "token" in methods else None
    return AuthRequest(methods=methods, password=password, token=token, scope=scope)
