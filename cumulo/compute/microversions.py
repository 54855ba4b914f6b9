"""Every microversion of the compute API, oldest first, and what each changed.

One line per version, as Nova's ``api_version_request.py`` and Placement's
``microversion.py`` keep them. A version that changes something cumulo
implements names that change as a ``Feature``; code asks
``supports(version, Feature.X)`` instead of comparing version numbers, so the
number of every behaviour change lives here and nowhere else. Request and
response models are chosen with ``pick`` from a table keyed by feature.

cumulo advertises the whole range; versions whose change concerns an API
cumulo does not serve yet are listed all the same, so a client asking for
them gets the behaviour Nova has for everything cumulo does serve.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from cumulo.api.microversion import APIVersion, VersionedAPI

T = TypeVar("T")


class Feature(enum.Enum):
    """A behaviour that appeared in some microversion (its version is in ``HISTORY``)."""

    KEYPAIR_TYPE = "keypair type; keypair create answers 201 and delete 204"
    FLAVOR_ACCESS_PUBLIC_CONFLICT = "adding access to a public flavor is a 409"
    KEYPAIR_USER_ID = "admins name the keypair owner with user_id"
    KEYPAIR_PAGINATION = "keypair lists page with limit and marker"
    LIMITS_WITHOUT_NETWORK = "limits and quota sets hide the nova-network quotas"
    LIMITS_WITHOUT_IMAGE_META = "limits hide maxImageMeta"
    FLAVOR_DESCRIPTION = "flavor description and PUT /flavors/{id}"
    LIMITS_WITHOUT_PERSONALITY = "limits and quota sets hide injected file quotas"
    FLAVOR_EXTRA_SPECS = "flavor bodies carry extra_specs"
    STRICT_QUERY = "unknown query parameters are a 400"
    FLAVOR_SWAP_ZERO = "a flavor without swap shows 0, not an empty string"
    EXTRA_SPEC_VALIDATION = "known flavor extra specs are validated"
    KEYPAIR_IMPORT_ONLY = "keypairs are imported only: public_key required, names may hold @ and ."


@dataclass(frozen=True)
class Microversion:
    version: APIVersion
    change: str
    features: tuple[Feature, ...] = ()


def _v(version: str, change: str, *features: Feature) -> Microversion:
    return Microversion(APIVersion.parse(version), change, features)


F = Feature
HISTORY: tuple[Microversion, ...] = (
    _v("2.1", "Initial version, equivalent to the v2.0 API"),
    _v("2.2", "Keypair type; keypair create 201, delete 204", F.KEYPAIR_TYPE),
    _v("2.3", "More os-extended-server-attributes; delete_on_termination in volumes"),
    _v("2.4", "reserved field in os-fixed-ips"),
    _v("2.5", "Non-admins may filter servers by ip6"),
    _v("2.6", "One API for remote consoles"),
    _v("2.7", "Adding access to a public flavor is refused", F.FLAVOR_ACCESS_PUBLIC_CONFLICT),
    _v("2.8", "mks remote console protocol"),
    _v("2.9", "Lock state in server details"),
    _v("2.10", "Admins may list, create and delete keypairs of any user", F.KEYPAIR_USER_ID),
    _v("2.11", "forced_down in os-services"),
    _v("2.12", "VIF net_id in os-virtual-interfaces"),
    _v("2.13", "project_id and user_id in os-server-groups"),
    _v("2.14", "evacuate drops onSharedStorage and adminPass"),
    _v("2.15", "soft-affinity and soft-anti-affinity server group policies"),
    _v("2.16", "host_status in server details"),
    _v("2.17", "trigger_crash_dump server action"),
    _v("2.18", "project_id optional in URLs"),
    _v("2.19", "Server description"),
    _v("2.20", "Volume attach/detach for shelved servers"),
    _v("2.21", "os-instance-actions of deleted servers"),
    _v("2.22", "Force a live migration to complete"),
    _v("2.23", "Server migrations index/show; migration_type"),
    _v("2.24", "Cancel a live migration"),
    _v("2.25", "block_migration auto; no disk_over_commit"),
    _v("2.26", "Server tags"),
    _v("2.27", "OpenStack-API-Version header"),
    _v("2.28", "cpu_info as an object"),
    _v("2.29", "force flag for evacuate"),
    _v("2.30", "force flag for live migration"),
    _v("2.31", "os-console-auth-tokens for every console type"),
    _v("2.32", "Tags on networks and block devices at boot"),
    _v("2.33", "Hypervisor pagination"),
    _v("2.34", "Asynchronous live-migration pre-checks"),
    _v("2.35", "Keypair pagination", F.KEYPAIR_PAGINATION),
    _v("2.36", "Proxy APIs deprecated; network quotas leave limits", F.LIMITS_WITHOUT_NETWORK),
    _v("2.37", "networks auto/none at boot; network uuids must be UUIDs"),
    _v("2.38", "400 for an invalid server status filter"),
    _v("2.39", "Image metadata proxy deprecated; no maxImageMeta", F.LIMITS_WITHOUT_IMAGE_META),
    _v("2.40", "Simple tenant usage pagination"),
    _v("2.41", "Aggregate uuid"),
    _v("2.42", "Device tags at boot restored"),
    _v("2.43", "os-hosts deprecated"),
    _v("2.44", "Fixed/floating IP server actions deprecated"),
    _v("2.45", "createImage/createBackup return image_id"),
    _v("2.46", "X-OpenStack-Request-ID on every response"),
    _v("2.47", "Server flavor shown as a dict"),
    _v("2.48", "Standard server diagnostics"),
    _v("2.49", "Tagged interface and volume attach"),
    _v("2.50", "server_groups quotas in os-quota-class-sets"),
    _v("2.51", "volume-extended event; non-admin action event details"),
    _v("2.52", "Tags at server create"),
    _v("2.53", "Service and hypervisor ids are UUIDs"),
    _v("2.54", "Reset key pair on rebuild"),
    _v("2.55", "Flavor description; PUT /flavors/{id}", F.FLAVOR_DESCRIPTION),
    _v("2.56", "Target host for cold migration"),
    _v("2.57", "Personality files deprecated, their limits gone", F.LIMITS_WITHOUT_PERSONALITY),
    _v("2.58", "Instance action pagination and changes-since"),
    _v("2.59", "Migration pagination and changes-since"),
    _v("2.60", "Multiattach volumes"),
    _v("2.61", "extra_specs in flavor bodies", F.FLAVOR_EXTRA_SPECS),
    _v("2.62", "host and hostId in instance action events"),
    _v("2.63", "Trusted image certificates"),
    _v("2.64", "Server group policy and rules"),
    _v("2.65", "Abort queued and preparing live migrations"),
    _v("2.66", "changes-before filter"),
    _v("2.67", "volume_type in block_device_mapping_v2"),
    _v("2.68", "No forced live migration or evacuate"),
    _v("2.69", "Minimal server constructs when a cell is down"),
    _v("2.70", "Device tags in volume attachments and interfaces"),
    _v("2.71", "server_groups in server show/update/rebuild"),
    _v("2.72", "Ports with resource requests at boot"),
    _v("2.73", "Lock reason"),
    _v("2.74", "host and hypervisor_hostname at boot"),
    _v("2.75", "Unknown query params are a 400; flavor swap 0", F.STRICT_QUERY, F.FLAVOR_SWAP_ZERO),
    _v("2.76", "power-update external event"),
    _v("2.77", "availability_zone for unshelve"),
    _v("2.78", "Server NUMA topology"),
    _v("2.79", "delete_on_termination on volume attach"),
    _v("2.80", "user_id and project_id in os-migrations"),
    _v("2.81", "Image cache by aggregate"),
    _v("2.82", "accelerator-request-bound external event"),
    _v("2.83", "More server list filters for non-admins"),
    _v("2.84", "details in instance action events"),
    _v("2.85", "Update delete_on_termination of an attached volume"),
    _v("2.86", "Known flavor extra specs are validated", F.EXTRA_SPEC_VALIDATION),
    _v("2.87", "Rescue volume-backed servers"),
    _v("2.88", "Hypervisor statistics fields dropped"),
    _v("2.89", "attachment_id and bdm_uuid in volume attachments"),
    _v("2.90", "Requested hostname at create/update/rebuild"),
    _v("2.91", "Unshelve to a host; pin/unpin availability zone"),
    _v("2.92", "No keypair generation; @ and . in keypair names", F.KEYPAIR_IMPORT_ONLY),
    _v("2.93", "Rebuild volume-backed servers"),
    _v("2.94", "FQDN server hostnames"),
    _v("2.95", "Evacuated servers stop at the destination"),
    _v("2.96", "pinned_availability_zone in server bodies"),
    _v("2.97", "Server shares"),
    _v("2.98", "Embedded image properties in server bodies"),
    _v("2.99", "spice-direct console type"),
    _v("2.100", "scheduler_hints in server bodies"),
)
del F

MIN_VERSION = HISTORY[0].version
MAX_VERSION = HISTORY[-1].version

COMPUTE_API = VersionedAPI(
    "compute", MIN_VERSION, MAX_VERSION, legacy_header="X-OpenStack-Nova-API-Version"
)

SINCE: Mapping[Feature, APIVersion] = {f: m.version for m in HISTORY for f in m.features}


def supports(version: APIVersion, feature: Feature) -> bool:
    """Whether a request at ``version`` gets ``feature``."""
    return version >= SINCE[feature]


def pick(version: APIVersion, table: Mapping[Feature | None, T]) -> T:
    """The entry of ``table`` for ``version``: the newest feature it supports.

    ``None`` keys the entry for versions before every feature in the table.
    """
    best: tuple[APIVersion, T] | None = None
    for feature, value in table.items():
        since = MIN_VERSION if feature is None else SINCE[feature]
        if since <= version and (best is None or since > best[0]):
            best = (since, value)
    if best is None:
        raise LookupError(f"no entry of the table applies to {version}")
    return best[1]
