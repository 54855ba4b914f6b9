"""GET /servers and /servers/detail: who sees what, each filter, and the errors Nova gives."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from cumulo.db.models.compute import Flavor
from cumulo.db.models.instances import InstanceTag
from cumulo.runtime import Runtime
from tests import compute_rows
from tests.fakes import ADMIN_PROJECT, ADMIN_USER, DEMO_PROJECT, DEMO_USER
from tests.unit.compute.conftest import ADMIN, DEMO, OTHER_PROJECT, at, fault
from tests.unit.compute.servers.conftest import SERVERS, add, at_time, vif

Query = dict[str, str] | list[tuple[str, str | int | float | bool | None]] | None


async def server(runtime: Runtime, name: str, project: str = DEMO_PROJECT, **fields: Any) -> str:
    """Add a server named ``name``; its uuid."""
    user = ADMIN_USER if project == ADMIN_PROJECT else DEMO_USER
    instance = compute_rows.instance(project, user, display_name=name, **fields)
    await add(runtime, instance)
    return instance.uuid


async def names(
    api: httpx.AsyncClient,
    params: Query = None,
    version: str = "2.1",
    token: dict[str, str] = DEMO,
) -> list[str]:
    r = await api.get(SERVERS, params=params, headers=at(version, token))
    assert r.status_code == 200, r.text
    return [s["name"] for s in r.json()["servers"]]


async def error(
    api: httpx.AsyncClient,
    params: Query,
    version: str = "2.1",
    token: dict[str, str] = DEMO,
    status: int = 400,
) -> str:
    r = await api.get(SERVERS, params=params, headers=at(version, token))
    assert r.status_code == status, r.text
    return str(fault(r)["message"])


# --- whose servers -------------------------------------------------------------------------


async def test_a_member_sees_its_live_servers(api: httpx.AsyncClient, runtime: Runtime) -> None:
    await server(runtime, "mine", created_at=at_time(1))
    await server(runtime, "mine-too", created_at=at_time(2))
    await server(runtime, "theirs", OTHER_PROJECT)
    await server(runtime, "gone", deleted=7, vm_state="deleted")
    await server(runtime, "soft", vm_state="soft-delete")
    assert await names(api) == ["mine-too", "mine"]


async def test_member_filters_outside_its_rights_are_dropped(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    """``deleted=False`` (the CLI sends it), ``project_id``, ``host``: ignored, not refused."""
    await server(runtime, "mine")
    await server(runtime, "theirs", OTHER_PROJECT)
    params = {"deleted": "True", "project_id": OTHER_PROJECT, "host": "elsewhere"}
    assert await names(api, params) == ["mine"]
    assert await names(api, {"deleted": "False"}, "2.100") == ["mine"]


async def test_admins_see_their_project_unless_all_tenants(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await server(runtime, "admins", ADMIN_PROJECT, created_at=at_time(3))
    await server(runtime, "demos", created_at=at_time(2))
    await server(runtime, "others", OTHER_PROJECT, created_at=at_time(1))
    assert await names(api, token=ADMIN) == ["admins"]
    assert await names(api, {"all_tenants": "1"}, token=ADMIN) == ["admins", "demos", "others"]
    assert await names(api, {"all_tenants": ""}, token=ADMIN) == ["admins", "demos", "others"]
    assert await names(api, {"all_tenants": "no"}, token=ADMIN) == ["admins"]
    filtered = {"all_tenants": "1", "project_id": OTHER_PROJECT}
    assert await names(api, filtered, token=ADMIN) == ["others"]
    assert await names(api, {"all_tenants": "1", "tenant_id": DEMO_PROJECT}, token=ADMIN) == [
        "demos"
    ]


async def test_all_tenants_is_for_admins(api: httpx.AsyncClient) -> None:
    message = await error(api, {"all_tenants": "1"}, status=403)
    assert message == "Policy doesn't allow compute:servers:index:get_all_tenants to be performed."
    assert await names(api, {"all_tenants": "0"}) == []


async def test_all_tenants_must_be_a_boolean(api: httpx.AsyncClient) -> None:
    assert await error(api, {"all_tenants": "maybe"}, token=ADMIN) == (
        "Invalid input received: Unrecognized value 'maybe', acceptable values are: "
        "'0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'"
    )


async def test_admin_lists_deleted_servers(api: httpx.AsyncClient, runtime: Runtime) -> None:
    await server(runtime, "live", ADMIN_PROJECT, created_at=at_time(1))
    await server(
        runtime, "gone", ADMIN_PROJECT, deleted=5, vm_state="deleted", created_at=at_time(2)
    )
    await server(runtime, "soft", ADMIN_PROJECT, vm_state="soft-delete", created_at=at_time(3))
    assert await names(api, {"deleted": "true"}, token=ADMIN) == ["soft", "gone"]
    assert await names(api, {"deleted": "true", "soft_deleted": "false"}, token=ADMIN) == ["gone"]
    assert await names(api, {"soft_deleted": "true"}, token=ADMIN) == ["soft", "live"]
    assert await names(api, {"status": "DELETED"}, token=ADMIN) == ["gone"]
    assert await error(api, {"status": "DELETED"}, status=403) == (
        "Only administrators may list deleted instances"
    )


# --- filters -------------------------------------------------------------------------------


async def test_name_is_a_regular_expression(api: httpx.AsyncClient, runtime: Runtime) -> None:
    await server(runtime, "web-1", created_at=at_time(1))
    await server(runtime, "web-2", created_at=at_time(2))
    await server(runtime, "db", created_at=at_time(3))
    assert await names(api, {"name": "web"}) == ["web-2", "web-1"]
    assert await names(api, {"name": "^w.b-1$"}) == ["web-1"]
    assert await names(api, {"name": "b"}) == ["db", "web-2", "web-1"]
    assert await names(api, {"name": "WEB"}) == []


async def test_bad_regex_and_dates_are_400s(api: httpx.AsyncClient) -> None:
    assert await error(api, {"name": "["}) == (
        "Invalid input for query parameters name. Value: [. '[' is not a 'regex'"
    )
    assert await error(api, {"name": ""}) == (
        "Invalid input for query parameters name. Value: . '' is not a 'regex'"
    )
    assert await error(api, {"changes-since": "yesterday"}) == (
        "Invalid input for query parameters changes-since. Value: yesterday. "
        "'yesterday' is not a 'date-time'"
    )
    assert await error(api, {"limit": "-1"}) == (
        "Invalid input for query parameters limit. Value: -1. '-1' does not match '^[0-9]*$'"
    )


async def test_status(api: httpx.AsyncClient, runtime: Runtime) -> None:
    await server(runtime, "up", created_at=at_time(4))
    await server(runtime, "rebooting", task_state="rebooting", created_at=at_time(3))
    await server(runtime, "off", vm_state="stopped", created_at=at_time(2))
    await server(runtime, "broken", vm_state="error", created_at=at_time(1))
    assert await names(api, {"status": "ACTIVE"}) == ["up", "rebooting"]
    assert await names(api, {"status": "reboot"}) == ["rebooting"]
    assert await names(api, [("status", "SHUTOFF"), ("status", "ERROR")]) == ["off", "broken"]
    # SHUTOFF is some vm_state's default, so (as in Nova) no task state narrows the union
    assert await names(api, [("status", "REBOOT"), ("status", "SHUTOFF")]) == [
        "up",
        "rebooting",
        "off",
    ]


async def test_unknown_status(api: httpx.AsyncClient, runtime: Runtime) -> None:
    await server(runtime, "up")
    r = await api.get(SERVERS, params={"status": "BOGUS"}, headers=at("2.37", DEMO))
    assert r.json() == {"servers": []}
    assert await error(api, {"status": "BOGUS"}, "2.38") == "Invalid status value"


async def test_image_flavor_and_reservation(api: httpx.AsyncClient, runtime: Runtime) -> None:
    big = {**compute_rows.TINY_FLAVOR, "id": "big", "name": "m1.big"}
    await server(runtime, "a", image_ref="img-a", reservation_id="r-one")
    await server(runtime, "b", image_ref="img-b", flavor=big, reservation_id="r-two")
    async with runtime.db.write() as session:
        session.add(Flavor(flavorid="big", name="m1.big", memory_mb=512, vcpus=1))
    assert await names(api, {"image": "img-b"}) == ["b"]
    assert await names(api, {"flavor": "big"}) == ["b"]
    assert await names(api, {"flavor": "1"}) == []
    assert await names(api, {"reservation_id": "one"}) == ["a"]


async def test_ip_filters_match_fixed_addresses(api: httpx.AsyncClient, runtime: Runtime) -> None:
    mac = "fa:16:3e:00:00:09"
    await server(runtime, "v4", network_info=[vif("n", mac, ("10.0.0.5", 4))])
    await server(
        runtime,
        "v6",
        network_info=[vif("n", mac, ("192.168.0.9", 4), ("fd00::10", 6), floating=("10.0.0.6",))],
    )
    assert await names(api, {"ip": "10.0.0.5"}) == ["v4"]
    assert await names(api, {"ip": "10\\.0"}) == ["v4"]
    assert await names(api, {"ip": "0.0.5"}) == []
    assert await names(api, {"ip6": "fd00"}, "2.4", ADMIN) == []
    assert await names(api, {"ip6": "fd00", "all_tenants": "1"}, "2.4", ADMIN) == ["v6"]
    assert await names(api, {"ip6": "fd00"}, "2.4") == ["v6", "v4"]
    assert await names(api, {"ip6": "fd00"}, "2.5") == ["v6"]


async def test_changes_since_and_before_include_deleted(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await server(runtime, "old", updated_at=at_time(1), created_at=at_time(1))
    await server(runtime, "new", updated_at=at_time(30), created_at=at_time(2))
    await server(
        runtime,
        "gone",
        updated_at=at_time(40),
        created_at=at_time(3),
        deleted=9,
        vm_state="deleted",
    )
    assert await names(api, {"changes-since": "2024-01-02T03:10:00Z"}) == ["gone", "new"]
    since = {"changes-since": "2024-01-02T03:10:00Z", "deleted": "false"}
    assert await names(api, since) == ["gone", "new"]
    before = {"changes-before": "2024-01-02T03:35:00+00:00"}
    assert await names(api, before, "2.65") == ["new", "old"]
    assert await names(api, before, "2.66") == ["new", "old"]
    window = {"changes-since": "2024-01-02T03:10:00", "changes-before": "2024-01-02T03:35:00"}
    assert await names(api, window, "2.66") == ["new"]
    backwards = {"changes-since": "2024-01-02T03:35:00", "changes-before": "2024-01-02T03:10:00"}
    assert await error(api, backwards, "2.66") == (
        "The value of changes-since must be less than or equal to changes-before."
    )


async def test_tags(api: httpx.AsyncClient, runtime: Runtime) -> None:
    ids = {}
    for minute, (name, tags) in enumerate(
        [("ab", ["a", "b"]), ("a", ["a"]), ("c", ["c"]), ("none", [])]
    ):
        ids[name] = await server(runtime, name, created_at=at_time(minute))
        await add(runtime, *(InstanceTag(instance_uuid=ids[name], tag=t) for t in tags))
    assert await names(api, {"tags": "a,b"}, "2.26") == ["ab"]
    assert await names(api, {"tags-any": "b,c"}, "2.26") == ["c", "ab"]
    assert await names(api, {"not-tags": "a,b"}, "2.26") == ["none", "c", "a"]
    assert await names(api, {"not-tags-any": "a,c"}, "2.26") == ["none"]
    assert await names(api, {"tags": "a"}, "2.25") == ["none", "c", "a", "ab"]


async def test_locked_from_273(api: httpx.AsyncClient, runtime: Runtime) -> None:
    await server(runtime, "locked", locked=True, locked_by="owner")
    await server(runtime, "free")
    assert await names(api, {"locked": "true"}, "2.73") == ["locked"]
    assert await names(api, {"locked": "0"}, "2.73") == ["free"]
    assert len(await names(api, {"locked": "true"}, "2.72")) == 2
    assert (await error(api, {"locked": "perhaps"}, "2.73")).startswith(
        "Invalid input received: Unrecognized value 'perhaps'"
    )


async def test_member_filters_added_in_283_and_290(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await server(runtime, "a", availability_zone="az1", key_name="k1", hostname="alpha")
    await server(runtime, "b", availability_zone="az2", key_name="k2", hostname="beta")
    for params in ({"availability_zone": "az2"}, {"key_name": "2"}, {"vm_state": "active"}):
        assert len(await names(api, params, "2.82")) == 2
    assert await names(api, {"availability_zone": "az2"}, "2.83") == ["b"]
    assert await names(api, {"key_name": "^k1$"}, "2.83") == ["a"]
    assert await names(api, {"user_id": "nobody"}, "2.83") == []
    assert len(await names(api, {"hostname": "alp"}, "2.89")) == 2
    assert await names(api, {"hostname": "alp"}, "2.90") == ["a"]


async def test_admin_filters(api: httpx.AsyncClient, runtime: Runtime) -> None:
    await server(runtime, "on-1", ADMIN_PROJECT, host="compute-1", node="node-1")
    await server(runtime, "on-2", ADMIN_PROJECT, host="compute-2", node="node-2", power_state=4)
    assert await names(api, {"host": "compute-2"}, token=ADMIN) == ["on-2"]
    assert await names(api, {"host": "compute"}, token=ADMIN) == []
    assert await names(api, {"node": "-1$"}, token=ADMIN) == ["on-1"]
    assert await names(api, {"power_state": "4"}, token=ADMIN) == ["on-2"]
    assert await names(api, {"task_state": "spawning"}, token=ADMIN) == []
    assert await names(api, {"launch_index": "^0$"}, token=ADMIN) == ["on-2", "on-1"]
    assert await error(api, {"launch_index": "["}, token=ADMIN) == (
        "Invalid input for query parameters launch_index. Value: [. '[' is not a 'regex'"
    )


async def test_unknown_parameters(api: httpx.AsyncClient, runtime: Runtime) -> None:
    await server(runtime, "a")
    assert await names(api, {"flavour": "x"}, "2.74") == ["a"]
    assert await error(api, {"flavour": "x", "colour": "y"}, "2.75") == (
        "Additional properties are not allowed ('colour', 'flavour' were unexpected)"
    )


@pytest.mark.parametrize("version", ["2.1", "2.75"])
async def test_joined_and_internal_filters(
    api: httpx.AsyncClient, runtime: Runtime, version: str
) -> None:
    """Refused by name for admins; dropped for everyone else."""
    await server(runtime, "a")
    assert await error(api, {"metadata": "x"}, version, ADMIN) == (
        "Invalid filter field: metadata."
    )
    assert await error(api, {"_secret": "x"}, version, ADMIN) == "Invalid filter field: _secret."
    assert await names(api, {"metadata": "x", "_secret": "y"}, version) == ["a"]


async def test_detail_filters_too(api: httpx.AsyncClient, runtime: Runtime) -> None:
    await server(runtime, "web")
    await server(runtime, "db")
    r = await api.get(f"{SERVERS}/detail", params={"name": "we"}, headers=at("2.100", DEMO))
    assert [s["name"] for s in r.json()["servers"]] == ["web"]


# --- sorting -------------------------------------------------------------------------------


async def test_default_order_is_newest_first(api: httpx.AsyncClient, runtime: Runtime) -> None:
    for minute, name in enumerate(["first", "second", "third"]):
        await server(runtime, name, created_at=at_time(minute))
    await server(runtime, "tie", created_at=at_time(1))
    assert await names(api) == ["third", "tie", "second", "first"]


async def test_sort_keys_and_directions(api: httpx.AsyncClient, runtime: Runtime) -> None:
    await server(runtime, "b", key_name="k2", created_at=at_time(1))
    await server(runtime, "a", key_name=None, created_at=at_time(2))
    await server(runtime, "c", key_name="k1", created_at=at_time(3))
    await server(runtime, "d", key_name="k1", created_at=at_time(4))
    assert await names(api, {"sort_key": "display_name", "sort_dir": "asc"}) == list("abcd")
    assert await names(api, {"sort_key": "display_name"}) == list("dcba")
    assert await names(api, {"sort_key": "key_name", "sort_dir": "asc"}) == list("acdb")
    assert await names(api, {"sort_key": "key_name", "sort_dir": "desc"}) == list("bdca")
    both = [("sort_key", "key_name"), ("sort_key", "created_at"), ("sort_dir", "asc")]
    assert await names(api, [*both, ("sort_dir", "desc")]) == list("adcb")
    assert await names(api, [*both, ("sort_dir", "asc")]) == list("acdb")


async def test_sort_errors(api: httpx.AsyncClient) -> None:
    assert (await error(api, {"sort_key": "colour"})).startswith(
        "Invalid input for query parameters sort_key. Value: colour. 'colour' is not one of ["
    )
    assert await error(api, {"sort_key": "display_name", "sort_dir": "up"}) == (
        "Invalid input received: Unknown sort direction, must be 'desc' or 'asc'"
    )
    two_dirs: Query = [("sort_key", "uuid"), ("sort_dir", "asc"), ("sort_dir", "desc")]
    assert await error(api, two_dirs) == (
        "Invalid input received: Sort direction size exceeds sort key size"
    )
    assert await error(api, {"sort_key": "host"}, status=403) == (
        "Only administrators can sort servers by host"
    )


async def test_ignored_sort_keys(api: httpx.AsyncClient, runtime: Runtime) -> None:
    """Keys Nova took but never honoured: dropped (with their direction) until 2.75."""
    await server(runtime, "old", created_at=at_time(1), locked=True)
    await server(runtime, "new", created_at=at_time(2))
    ignored = {"sort_key": "vcpus", "sort_dir": "asc"}
    assert await names(api, ignored, "2.74") == ["new", "old"]
    assert (await error(api, ignored, "2.75")).startswith(
        "Invalid input for query parameters sort_key. Value: vcpus."
    )
    locked = {"sort_key": "locked", "sort_dir": "asc"}
    assert await names(api, locked, "2.72") == ["new", "old"]
    assert await names(api, {"sort_key": "locked", "sort_dir": "desc"}, "2.73") == ["old", "new"]
    assert await names(api, {"sort_key": "host"}, token=ADMIN) == []


# --- paging --------------------------------------------------------------------------------


async def test_pages_and_next_links(api: httpx.AsyncClient, runtime: Runtime) -> None:
    ids = [await server(runtime, f"s{i}", created_at=at_time(i)) for i in range(5)]
    r = await api.get(SERVERS, params={"limit": "2", "name": "s"}, headers=DEMO)
    body = r.json()
    assert [s["name"] for s in body["servers"]] == ["s4", "s3"]
    (link,) = body["servers_links"]
    assert link["rel"] == "next"
    url = urlsplit(link["href"])
    assert url.path == "/compute/v2.1/servers"
    assert parse_qs(url.query) == {"limit": ["2"], "marker": [ids[3]], "name": ["s"]}
    seen = ["s4", "s3"]
    while "servers_links" in body:
        body = (await api.get(body["servers_links"][0]["href"], headers=DEMO)).json()
        seen += [s["name"] for s in body["servers"]]
    assert seen == ["s4", "s3", "s2", "s1", "s0"]


async def test_detail_next_link(api: httpx.AsyncClient, runtime: Runtime) -> None:
    for i in range(2):
        await server(runtime, f"s{i}", created_at=at_time(i))
    r = await api.get(f"{SERVERS}/detail", params={"limit": "1"}, headers=at("2.100", DEMO))
    (link,) = r.json()["servers_links"]
    assert urlsplit(link["href"]).path == "/compute/v2.1/servers/detail"


async def test_last_page_has_no_next_link(api: httpx.AsyncClient, runtime: Runtime) -> None:
    await server(runtime, "only")
    r = await api.get(SERVERS, params={"limit": "2"}, headers=DEMO)
    assert "servers_links" not in r.json()
    r = await api.get(SERVERS, params={"limit": "0"}, headers=DEMO)
    assert r.json() == {"servers": []}


async def test_marker_after_a_null_sort_value(api: httpx.AsyncClient, runtime: Runtime) -> None:
    ids = {}
    for minute, key in enumerate([None, "k1", None, "k2"]):
        ids[minute] = await server(runtime, f"s{minute}", key_name=key, created_at=at_time(minute))
    for direction, order in (("asc", ["s0", "s2", "s1", "s3"]), ("desc", ["s3", "s1", "s2", "s0"])):
        sort = {"sort_key": "key_name", "sort_dir": direction}
        assert await names(api, sort) == order
        for i, name in enumerate(order[:-1]):
            marker = ids[int(name[1])]
            assert await names(api, {**sort, "marker": marker}) == order[i + 1 :]


async def test_unknown_marker(api: httpx.AsyncClient) -> None:
    assert await error(api, {"marker": "nope"}) == "marker [nope] not found"


async def test_python_filters_page_across_batches(
    api: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A regex filter reads rows batch by batch and still fills whole pages."""
    from cumulo.compute.servers import listing

    monkeypatch.setattr(listing, "_BATCH", 3)
    for i in range(10):
        await server(runtime, f"{'keep' if i % 3 else 'skip'}-{i}", created_at=at_time(i))
    kept = [f"keep-{i}" for i in reversed(range(10)) if i % 3]
    assert await names(api, {"name": "keep"}) == kept
    assert await names(api, {"name": "keep", "limit": "4"}) == kept[:4]
