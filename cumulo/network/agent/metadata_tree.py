"""The metadata service's URL tree: what a path answers for one instance, in Nova's layout
(``nova/api/metadata/base.py`` ``lookup``); ``metadata.MetadataProxy`` serves it over HTTP.
The layout is drawn in ``metadata``'s docstring."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from cumulo.virt.instance_metadata import LATEST, InstanceMetadata

EC2_API_VERSIONS = (
    "1.0",
    "2007-01-19",
    "2007-03-01",
    "2007-08-29",
    "2007-10-10",
    "2007-12-15",
    "2008-02-01",
    "2008-09-01",
    "2009-04-04",
)
"""The EC2 metadata versions Nova answers (``base.VERSIONS``); ``latest`` is the last."""

_EC2_KEYS_SINCE = {
    "local-hostname": "2007-01-19",
    "public-hostname": "2007-01-19",
    "public-ipv4": "2007-01-19",
    "instance-type": "2007-08-29",
    "block-device-mapping": "2007-12-15",
    "kernel-id": "2007-12-15",
    "ramdisk-id": "2007-12-15",
    "placement": "2008-02-01",
    "instance-action": "2008-09-01",
}
"""EC2 keys an older version did not have, with the version that brought them."""

TEXT = "text/plain; charset=utf-8"
OCTETS = "text/plain"
JSON = "application/json"


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = TEXT


def error_reply(status: int) -> Reply:
    return Reply(status, f"{status} {HTTPStatus(status).phrase}\n".encode())


NOT_FOUND = error_reply(404)
METHOD_NOT_ALLOWED = error_reply(405)


# -- the URL tree -------------------------------------------------------------------------


class _KeyList(dict[str, Any]):
    """A directory its parent lists by ``label`` instead of ``<name>/`` (EC2 public keys)."""

    def __init__(self, label: str, items: Mapping[str, Any]) -> None:
        super().__init__(items)
        self.label = label


def resolve(metadata: InstanceMetadata, path: str, remote_ip: str) -> Reply:
    """The answer to ``GET path`` from the guest ``metadata`` describes, at ``remote_ip``."""
    tokens = [token for token in unquote(path).split("/") if token not in ("", ".")]
    if ".." in tokens:
        return NOT_FOUND
    if tokens[:1] == ["openstack"]:
        return _openstack(metadata.files(), tokens[1:])
    if tokens[:1] == ["ec2"]:
        tokens = tokens[1:]
    if not tokens:
        return _text("\n".join((*EC2_API_VERSIONS, LATEST)))
    return _ec2(metadata, tokens, remote_ip)


def _openstack(files: Mapping[str, bytes], tokens: list[str]) -> Reply:
    if not tokens:
        versions = dict.fromkeys(
            path.split("/")[1] for path in files if path.startswith("openstack/")
        )
        return _text("\n".join(versions))
    if len(tokens) == 1:
        folder = f"openstack/{tokens[0]}/"
        names = [path.removeprefix(folder) for path in files if path.startswith(folder)]
        return _text("\n".join(names)) if names else NOT_FOUND
    if len(tokens) == 2:
        body = files.get(f"openstack/{tokens[0]}/{tokens[1]}")
        if body is not None:
            return Reply(200, body, JSON if tokens[1].endswith(".json") else OCTETS)
    return NOT_FOUND


def _ec2(metadata: InstanceMetadata, tokens: list[str], remote_ip: str) -> Reply:
    version = EC2_API_VERSIONS[-1] if tokens[0] == LATEST else tokens[0]
    if version not in EC2_API_VERSIONS:
        return NOT_FOUND
    node: Any = ec2_tree(metadata, version, remote_ip)
    for token in tokens[1:]:
        if not isinstance(node, dict) or token not in node:
            return NOT_FOUND
        node = node[token]
    if isinstance(node, bytes):
        return Reply(200, node, OCTETS)
    return _text(_ec2_text(node))


def ec2_tree(metadata: InstanceMetadata, version: str, remote_ip: str) -> dict[str, Any]:
    """Nova's ``get_ec2_metadata``: ``meta-data`` with the keys ``version`` had, ``user-data``."""
    meta = metadata.ec2_meta_data()
    for key, since in _EC2_KEYS_SINCE.items():
        if version < since:
            meta.pop(key, None)
    if meta.get("local-ipv4") is None:
        meta["local-ipv4"] = remote_ip  # Nova's answer for a guest without a fixed IPv4
    keys = metadata.source.public_keys
    if "public-keys" in meta and keys:
        meta["public-keys"] = {"0": _KeyList(f"0={keys[0].name}", {"openssh-key": keys[0].data})}
    tree: dict[str, Any] = {"meta-data": meta}
    if metadata.source.user_data is not None:
        tree["user-data"] = metadata.source.user_data
    return tree


def _ec2_text(node: Any) -> str:
    """Nova's ``ec2_md_print``: sorted keys of a directory, lines of a list, else the value."""
    if isinstance(node, dict):
        return "\n".join(_ec2_entry(key, node[key]) for key in sorted(node))
    if isinstance(node, list):
        return "\n".join(str(item) for item in node)
    return str(node)


def _ec2_entry(key: str, value: Any) -> str:
    if isinstance(value, _KeyList):
        return value.label
    return f"{key}/" if isinstance(value, dict) else key


def _text(text: str) -> Reply:
    return Reply(200, text.encode())
