"""The ``clouds.yaml`` for the ``openstack`` CLI: clouds ``cumulo`` and ``cumulo-demo``."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

ADMIN_CLOUD = "cumulo"
DEMO_CLOUD = "cumulo-demo"


@dataclass(frozen=True)
class Credentials:
    admin_password: str
    demo_password: str

    @classmethod
    def generate(cls) -> Credentials:
        return cls(secrets.token_urlsafe(18), secrets.token_urlsafe(18))


def _cloud(auth_url: str, user: str, password: str, project: str, region: str) -> dict[str, object]:
    return {
        "auth": {
            "auth_url": auth_url,
            "username": user,
            "password": password,
            "project_name": project,
            "user_domain_name": "Default",
            "project_domain_name": "Default",
        },
        "region_name": region,
        "interface": "public",
        "identity_api_version": 3,
    }


def write_clouds_yaml(path: Path, public_url: str, creds: Credentials, region: str) -> None:
    """Write both clouds, readable by the owner only (it holds passwords)."""
    auth_url = f"{public_url.rstrip('/')}/identity"
    doc = {
        "clouds": {
            ADMIN_CLOUD: _cloud(auth_url, "admin", creds.admin_password, "admin", region),
            DEMO_CLOUD: _cloud(auth_url, "demo", creds.demo_password, "demo", region),
        }
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".yaml.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        yaml.safe_dump(doc, fh, sort_keys=False)
    tmp.replace(path)


def password_auth_body(auth: Mapping[str, str]) -> dict[str, object]:
    """Keystone's password-auth request for a ``clouds.yaml`` ``auth`` section (domains
    default to Default)."""
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": auth["username"],
                        "password": auth["password"],
                        "domain": {"name": auth.get("user_domain_name", "Default")},
                    }
                },
            },
            "scope": {
                "project": {
                    "name": auth["project_name"],
                    "domain": {"name": auth.get("project_domain_name", "Default")},
                }
            },
        }
    }


def read_credentials(path: Path) -> Credentials | None:
    """The passwords of an earlier bootstrap, if its clouds.yaml is still there."""
    if not path.exists():
        return None
    doc = yaml.safe_load(path.read_text()) or {}
    clouds = doc.get("clouds", {})
    try:
        return Credentials(
            clouds[ADMIN_CLOUD]["auth"]["password"], clouds[DEMO_CLOUD]["auth"]["password"]
        )
    except (KeyError, TypeError):
        return None
