"""The ``POST /servers`` body, as Nova's ``schemas/servers.py`` ``create_v294`` checks it.

Keys that appeared in a later microversion are refused at an earlier one the
way Nova's schema of that version refuses them: as additional properties.
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, PlainValidator

from cumulo.api.microversion import APIVersion
from cumulo.api.validation import SchemaValidationError
from cumulo.compute.validation import (
    Boolean,
    Name,
    check_length,
    check_pattern,
    check_range,
    description,
    enum,
    fail,
    is_integer,
    string,
)


def _uuid(value: Any) -> str:
    if not isinstance(value, str):
        fail(f"{value!r} is not of type 'string'")
    try:
        uuid.UUID(value)
    except ValueError:
        fail(f"{value!r} is not a 'uuid'")
    return value


def _image_ref(value: Any) -> str:
    if value == "":
        return value
    try:
        return _uuid(value)
    except Exception:
        fail(f"{value!r} is not valid under any of the given schemas")


def _flavor_ref(value: Any) -> str:
    if not (isinstance(value, str) or is_integer(value)):
        fail(f"{value!r} is not of type 'string', 'integer'")
    text = str(value)
    check_length(text, 1, None)
    return text.rstrip("/").rsplit("/", 1)[-1]


def _positive_int(value: Any) -> int:
    if not (is_integer(value) or isinstance(value, str)):
        fail(f"{value!r} is not of type 'integer', 'string'")
    if isinstance(value, str):
        check_pattern(value, "^[0-9]*$")
    check_range(value, 1, None)
    return int(value)


def _ip(version: int) -> Any:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            fail(f"{value!r} is not of type 'string'")
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            fail(f"{value!r} is not a 'ipv{version}'")
        if address.version != version:
            fail(f"{value!r} is not a 'ipv{version}'")
        return value

    return check


def _fixed_ip(value: Any) -> str:
    if not isinstance(value, str):
        fail(f"{value!r} is not of type 'string'")
    try:
        ipaddress.ip_address(value)
    except ValueError:
        fail(f"{value!r} is not valid under any of the given schemas")
    return value


def _tag(value: Any) -> str:
    string(1, 60)(value)
    check_pattern(value, "^[^,/]*$")
    return str(value)


def _metadata(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        fail(f"{value!r} is not of type 'object'")
    for key, item in value.items():
        check_length(key, 1, 255)
        check_pattern(key, r"^[a-zA-Z0-9-_:. ]{1,255}$")
        if not isinstance(item, str):
            fail(f"{item!r} is not of type 'string'")
        check_length(item, 0, 255)
    return value


def _base64(value: Any) -> str:
    string(None, 65535)(value)
    return str(value)


def _boot_index(value: Any) -> int | None:
    if value is None:
        return None
    if not (is_integer(value) or isinstance(value, str)):
        fail(f"{value!r} is not of type 'integer', 'string', 'null'")
    if isinstance(value, str):
        check_pattern(value, "^-?[0-9]+$")
    return int(value)


def _volume_size(value: Any) -> int | None:
    if value is None:
        return None
    if not (is_integer(value) or isinstance(value, str)):
        fail(f"{value!r} is not of type 'integer', 'string', 'null'")
    if isinstance(value, str):
        check_pattern(value, "^[0-9]+$")
    check_range(value, 1, 0x7FFFFFFF)
    return int(value)


def _hostname(value: Any) -> str:
    string(1, 255)(value)
    check_pattern(value, r"^[a-zA-Z0-9-._]*$")
    return str(value)


Uuid: TypeAlias = Annotated[str, PlainValidator(_uuid)]
ImageRef: TypeAlias = Annotated[str, PlainValidator(_image_ref)]
FlavorRef: TypeAlias = Annotated[str, PlainValidator(_flavor_ref)]
PositiveInt: TypeAlias = Annotated[int, PlainValidator(_positive_int)]
FixedIp: TypeAlias = Annotated[str, PlainValidator(_fixed_ip)]
IPv4: TypeAlias = Annotated[str, PlainValidator(_ip(4))]
IPv6: TypeAlias = Annotated[str, PlainValidator(_ip(6))]
Tag: TypeAlias = Annotated[str, PlainValidator(_tag)]
Metadata: TypeAlias = Annotated[dict[str, str], PlainValidator(_metadata)]
Base64: TypeAlias = Annotated[str, PlainValidator(_base64)]
Description: TypeAlias = Annotated[str | None, PlainValidator(description(255))]
BootIndex: TypeAlias = Annotated[int | None, PlainValidator(_boot_index)]
VolumeSize: TypeAlias = Annotated[int | None, PlainValidator(_volume_size)]
Hostname: TypeAlias = Annotated[str, PlainValidator(_hostname)]
Text255: TypeAlias = Annotated[str, PlainValidator(string(1, 255))]
DeviceText: TypeAlias = Annotated[str, PlainValidator(string(None, 255))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)


class RequestedNetwork(_Strict):
    uuid: Uuid | None = None
    port: Uuid | None = None
    fixed_ip: FixedIp | None = None
    tag: Tag | None = None


class BlockDeviceMappingV2(_Strict):
    source_type: Literal["volume", "image", "snapshot", "blank"] | None = None
    destination_type: Literal["local", "volume"] | None = None
    uuid: DeviceText | None = None
    boot_index: BootIndex = None
    volume_size: VolumeSize = None
    device_name: DeviceText | None = None
    delete_on_termination: Boolean = False
    guest_format: DeviceText | None = None
    device_type: DeviceText | None = None
    disk_bus: DeviceText | None = None
    no_device: Any = None
    tag: Tag | None = None
    volume_type: DeviceText | None = None


class SecurityGroupName(_Strict):
    name: Text255


class ServerCreate(_Strict):
    name: Name
    imageRef: ImageRef = ""
    flavorRef: FlavorRef
    adminPass: Annotated[str, PlainValidator(string())] | None = None
    metadata: Metadata = {}
    networks: list[RequestedNetwork] | Literal["auto", "none"] | None = None
    disk_config: Literal["AUTO", "MANUAL"] | None = Field(None, alias="OS-DCF:diskConfig")
    accessIPv4: IPv4 | None = None
    accessIPv6: IPv6 | None = None
    availability_zone: Text255 | None = None
    block_device_mapping_v2: list[BlockDeviceMappingV2] | None = None
    config_drive: Boolean = False
    key_name: Name | None = None
    min_count: PositiveInt = 1
    max_count: PositiveInt = 1
    return_reservation_id: Boolean = False
    security_groups: list[SecurityGroupName] | None = None
    user_data: Base64 | None = None
    description: Description = None
    tags: Annotated[list[Tag], Field(max_length=50)] | None = None
    trusted_image_certificates: list[Text255] | None = None
    host: Hostname | None = None
    hypervisor_hostname: Hostname | None = None
    hostname: Hostname | None = None


class CreateBody(_Strict):
    server: ServerCreate
    scheduler_hints: dict[str, Any] | None = Field(None, alias="os:scheduler_hints")
    sch_hnt_hints: dict[str, Any] | None = Field(None, alias="OS-SCH-HNT:scheduler_hints")

    def hints(self) -> dict[str, Any]:
        return dict(self.scheduler_hints or self.sch_hnt_hints or {})


_SINCE = {
    "description": "2.19",
    "tags": "2.52",
    "trusted_image_certificates": "2.63",
    "host": "2.74",
    "hypervisor_hostname": "2.74",
    "hostname": "2.90",
}


def check_version(body: Any, version: APIVersion) -> None:
    """Refuse the keys the request's microversion does not know; require ``networks`` from 2.37."""
    if not isinstance(body, dict) or not isinstance(body.get("server"), dict):
        return
    server = body["server"]
    unknown = sorted(k for k, v in _SINCE.items() if k in server and version < APIVersion.parse(v))
    if unknown:
        listed = ", ".join(repr(k) for k in unknown)
        verb = "was" if len(unknown) == 1 else "were"
        detail = f"Additional properties are not allowed ({listed} {verb} unexpected)"
        raise SchemaValidationError("server", server, detail)
    if version >= APIVersion.parse("2.37") and "networks" not in server:
        raise SchemaValidationError("server", server, "'networks' is a required property")


# --- server actions ------------------------------------------------------------------------


class RebootType(_Strict):
    type: Annotated[str, PlainValidator(enum("HARD", "Hard", "hard", "SOFT", "Soft", "soft"))]


class RebootBody(_Strict):
    """``{"reboot": {"type": "SOFT" | "HARD"}}``, either in any of Nova's three casings."""

    reboot: RebootType
