"""The compute-facing API over the bus: Nova's allocation, each of its errors, rollback."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from cumulo import exception
from cumulo.config import BusSettings, NetworkSettings
from cumulo.db.models.network import IPAllocation, Port
from cumulo.manager import start_managers, stop_managers
from cumulo.network import compute_errors as nova
from cumulo.network.messages import InstanceRef, NetworkRequest
from cumulo.network.model import NetworkInfo
from cumulo.network.rpcapi import NetworkAPI
from cumulo.rpc import Bus, make_bus
from cumulo.runtime import Runtime
from tests.databases import ENGINES, api_client, runtime_on
from tests.fakes import ADMIN as ADMIN_CTX
from tests.fakes import DEMO as DEMO_CTX
from tests.fakes import DEMO_PROJECT
from tests.unit.network.conftest import ADMIN, DEMO, V2, Neutron

HOST = "compute1"


def _instance() -> InstanceRef:
    return InstanceRef(uuid=str(uuid.uuid4()), project_id=DEMO_PROJECT, availability_zone="nova")


async def _net(neutron: Neutron, cidr: str | None = "10.0.0.0/24", **body: Any) -> dict[str, Any]:
    net = await neutron.network(**body)
    if cidr is not None:
        await neutron.subnet(net["id"], cidr, dns_nameservers=["10.0.0.53"])
    return net


async def _ports(runtime: Runtime) -> dict[str, tuple[str, str, str, str]]:
    """Every port as (device_id, device_owner, host, an address), straight from the tables."""
    async with runtime.db.read() as session:
        rows = list(await session.scalars(select(Port)))
        ips = list(await session.scalars(select(IPAllocation)))
    taken = {a.port_id: a.ip_address for a in ips}
    return {r.id: (r.device_id, r.device_owner, r.host_id, taken.get(r.id, "")) for r in rows}


async def _allocate(bus: Bus, requested: Any, **kwargs: Any) -> Any:
    instance = kwargs.pop("instance", None) or _instance()
    ctx = kwargs.pop("ctx", DEMO_CTX)
    return await NetworkAPI(bus).allocate_for_instance(
        ctx, instance, requested, bind_host_id=HOST, **kwargs
    )


# Success paths ---------------------------------------------------------------


async def test_network_by_id_creates_a_bound_port(
    bus: Bus, neutron: Neutron, api: httpx.AsyncClient, runtime: Runtime
) -> None:
    net = await _net(neutron)
    instance = _instance()
    info = await _allocate(bus, [(net["id"], None, None, "nic1")], instance=instance)
    [vif] = info.vifs
    assert vif.network.id == net["id"] and vif.network.label == "net"
    assert vif.network.mtu == 1450 and vif.network.bridge == "brq" + net["id"][:11]
    assert vif.devname == "tap" + vif.id[:11] and len(vif.devname) == 14
    assert vif.type == "bridge" and vif.vnic_type == "normal" and vif.tag == "nic1"
    assert not vif.preserve_on_delete and not vif.active
    [subnet] = vif.network.subnets
    assert subnet.cidr == "10.0.0.0/24" and subnet.gateway and subnet.gateway.address == "10.0.0.1"
    assert [d.address for d in subnet.dns] == ["10.0.0.53"]
    [ip] = subnet.ips
    assert ip.type == "fixed" and ip.version == 4 and ip.address.startswith("10.0.0.")
    port = (await api.get(f"{V2}/ports/{vif.id}", headers=ADMIN)).json()["port"]
    assert port["device_id"] == instance.uuid and port["device_owner"] == "compute:nova"
    assert port["binding:host_id"] == HOST and port["mac_address"] == vif.address
    assert port["fixed_ips"][0]["ip_address"] == ip.address
    assert await NetworkAPI(bus).get_instance_nw_info(DEMO_CTX, instance.uuid) == info


async def test_port_by_id_is_bound_and_preserved(
    bus: Bus, neutron: Neutron, runtime: Runtime
) -> None:
    net = await _net(neutron)
    port = await neutron.port(net["id"])
    instance = _instance()
    info = await _allocate(bus, [NetworkRequest(port_id=port["id"])], instance=instance)
    [vif] = info.vifs
    assert vif.id == port["id"] and vif.preserve_on_delete
    assert (await _ports(runtime))[port["id"]][:3] == (instance.uuid, "compute:nova", HOST)


async def test_fixed_ip_two_nics_and_security_group_by_name(
    bus: Bus, neutron: Neutron, api: httpx.AsyncClient
) -> None:
    first = await _net(neutron)
    second = await _net(neutron, "10.9.0.0/24")
    group = await neutron.create("security_group", {"name": "web"})
    requested = [(first["id"], None, "10.0.0.50", None), (second["id"], None, None, None)]
    info = await _allocate(bus, requested, security_groups=["web"])
    assert [v.network.id for v in info.vifs] == [first["id"], second["id"]]
    assert [ip.address for ip in info.vifs[0].fixed_ips()] == ["10.0.0.50"]
    assert info.fixed_ips()[1].address.startswith("10.9.0.")
    for vif in info.vifs:
        port = (await api.get(f"{V2}/ports/{vif.id}", headers=DEMO)).json()["port"]
        assert port["security_groups"] == [group["id"]]


async def test_no_request_or_auto_takes_the_one_network_and_none_takes_nothing(
    bus: Bus, neutron: Neutron
) -> None:
    assert (await _allocate(bus, None)).vifs == []
    net = await _net(neutron)
    unspecified: list[Any] = [None, [], "auto"]
    for requested in unspecified:
        [vif] = (await _allocate(bus, requested)).vifs
        assert vif.network.id == net["id"]
    assert (await _allocate(bus, "none")).vifs == []


async def test_shared_network_of_another_project_is_available(bus: Bus, neutron: Neutron) -> None:
    shared = await neutron.network(ADMIN, shared=True, **{"router:external": True})
    await neutron.subnet(shared["id"], "172.24.4.0/24", ADMIN)
    [vif] = (await _allocate(bus, "auto")).vifs
    assert vif.network.id == shared["id"]


async def test_repeated_allocation_answers_the_same_nics(
    bus: Bus, neutron: Neutron, runtime: Runtime
) -> None:
    net = await _net(neutron)
    instance = _instance()
    first = await _allocate(bus, [(net["id"], None, None, None)], instance=instance)
    again = await _allocate(bus, [(net["id"], None, None, None)], instance=instance)
    assert again == first and len(await _ports(runtime)) == 1


async def test_deallocate_deletes_created_and_unbinds_preexisting(
    bus: Bus, neutron: Neutron, runtime: Runtime
) -> None:
    net = await _net(neutron)
    mine = await neutron.port(net["id"])
    instance = _instance()
    requested = [(None, mine["id"], None, None), (net["id"], None, None, None)]
    info = await _allocate(bus, requested, instance=instance)
    created = info.vifs[1].id
    for _ in range(2):
        await NetworkAPI(bus).deallocate_for_instance(DEMO_CTX, instance.uuid)
        ports = await _ports(runtime)
        assert set(ports) == {mine["id"]} and ports[mine["id"]][:3] == ("", "", "")
    assert created not in ports
    assert (await NetworkAPI(bus).get_instance_nw_info(DEMO_CTX, instance.uuid)).vifs == []


# Validation before the boot ---------------------------------------------------


async def test_validate_networks_counts_instances_the_port_quota_allows(
    bus: Bus, neutron: Neutron, api: httpx.AsyncClient
) -> None:
    net = await _net(neutron)
    await neutron.port(net["id"])
    resp = await api.put(f"{V2}/quotas/{DEMO_PROJECT}", json={"quota": {"port": 5}}, headers=ADMIN)
    assert resp.status_code == 200
    network_api = NetworkAPI(bus)
    two_nics = [(net["id"], None, None, None)] * 2
    assert await network_api.validate_networks(DEMO_CTX, two_nics, 10) == 2
    assert await network_api.validate_networks(DEMO_CTX, "auto", 3) == 3
    assert await network_api.validate_networks(DEMO_CTX, "none", 50) == 50
    await api.put(f"{V2}/quotas/{DEMO_PROJECT}", json={"quota": {"port": 0}}, headers=ADMIN)
    with pytest.raises(nova.PortLimitExceeded) as err:
        await network_api.validate_networks(DEMO_CTX, two_nics, 1)
    assert err.value.code == 403
    assert str(err.value) == "The number of defined ports: 1 is over the limit: 0"


async def test_validate_networks_errors(bus: Bus, neutron: Neutron) -> None:
    net = await _net(neutron)
    bare = await _net(neutron, None)
    used = await neutron.port(net["id"], device_id="vm-1", fixed_ips=[{"ip_address": "10.0.0.9"}])
    network_api = NetworkAPI(bus)
    cases: list[tuple[Any, type[exception.CumuloError], int]] = [
        ([(None, used["id"], None, None)], nova.PortInUse, 409),
        ([(bare["id"], None, None, None)], nova.NetworkRequiresSubnet, 400),
        ([(str(uuid.uuid4()), None, None, None)], nova.NetworkNotFound, 400),
        ([(None, str(uuid.uuid4()), None, None)], nova.PortNotFound, 400),
        ([(net["id"], None, "10.0.0.9", None)], nova.FixedIpAlreadyInUse, 400),
        ("auto", nova.NetworkAmbiguous, 409),
    ]
    for requested, error, code in cases:
        with pytest.raises(error) as err:
            await network_api.validate_networks(DEMO_CTX, requested, 1)
        assert err.value.code == code, requested
    with pytest.raises(nova.FixedIpAlreadyInUse) as taken:
        await network_api.validate_networks(DEMO_CTX, [(net["id"], None, "10.0.0.9", None)], 1)
    assert str(taken.value) == "Fixed IP address 10.0.0.9 is already in use on instance vm-1."


# Each of Nova's errors --------------------------------------------------------


async def _expect(bus: Bus, requested: Any, error: type[Exception], code: int, **kw: Any) -> str:
    with pytest.raises(error) as err:
        await _allocate(bus, requested, **kw)
    assert isinstance(err.value, exception.CumuloError) and err.value.code == code
    return str(err.value)


async def test_port_in_use(bus: Bus, neutron: Neutron) -> None:
    net = await _net(neutron)
    port = await neutron.port(net["id"], device_id="another-vm")
    message = await _expect(bus, [(None, port["id"], None, None)], nova.PortInUse, 409)
    assert message == f"Port {port['id']} is still in use."


async def test_port_bound_to_another_host_is_not_usable(bus: Bus, neutron: Neutron) -> None:
    net = await _net(neutron)
    port = await neutron.port(
        net["id"], ADMIN, project_id=DEMO_PROJECT, **{"binding:host_id": "h2"}
    )
    instance = _instance()
    message = await _expect(
        bus, [(None, port["id"], None, None)], nova.PortNotUsable, 400, instance=instance
    )
    assert message == f"Port {port['id']} not usable for instance {instance.uuid}."


async def test_port_of_another_project_is_not_usable_for_admin_and_not_found_for_others(
    bus: Bus, neutron: Neutron
) -> None:
    net = await _net(neutron)
    admins = await neutron.port(net["id"], ADMIN)
    requested = [(None, admins["id"], None, None)]
    await _expect(bus, requested, nova.PortNotUsable, 400, ctx=ADMIN_CTX)
    message = await _expect(bus, requested, nova.PortNotFound, 400)
    assert message == f"Port id {admins['id']} could not be found."


async def test_port_without_fixed_ip(bus: Bus, neutron: Neutron) -> None:
    bare = await _net(neutron, None)
    port = await neutron.port(bare["id"])
    message = await _expect(bus, [(None, port["id"], None, None)], nova.PortRequiresFixedIP, 400)
    assert message == f"Port {port['id']} requires a FixedIP in order to be used."


async def test_two_networks_and_none_requested_is_ambiguous(bus: Bus, neutron: Neutron) -> None:
    await _net(neutron)
    await _net(neutron, "10.1.0.0/24")
    for requested in (None, "auto"):
        message = await _expect(bus, requested, nova.NetworkAmbiguous, 409)
        assert message == "Multiple possible networks found, use a Network ID to be more specific."


async def test_auto_without_any_network(bus: Bus) -> None:
    message = await _expect(bus, "auto", nova.UnableToAutoAllocateNetwork, 400)
    assert message == f"Unable to automatically allocate a network for project {DEMO_PROJECT}"


async def test_network_not_found_or_not_visible(bus: Bus, neutron: Neutron) -> None:
    missing = str(uuid.uuid4())
    message = await _expect(bus, [(missing, None, None, None)], nova.NetworkNotFound, 400)
    assert message == f"Network {missing} could not be found."
    private = await neutron.network(ADMIN)
    await _expect(bus, [(private["id"], None, None, None)], nova.NetworkNotFound, 400)


async def test_external_network_is_forbidden_unless_shared_or_admin(
    bus: Bus, neutron: Neutron
) -> None:
    public = await neutron.network(ADMIN, **{"router:external": True})
    await neutron.subnet(public["id"], "172.24.4.0/24", ADMIN)
    requested = [(public["id"], None, None, None)]
    message = await _expect(bus, requested, nova.ExternalNetworkAttachForbidden, 403)
    assert message == (
        f"It is not allowed to create an interface on external network {public['id']}"
    )
    instance = _instance()
    [vif] = (await _allocate(bus, requested, ctx=ADMIN_CTX, instance=instance)).vifs
    assert vif.network.id == public["id"]


async def test_security_group_name_ambiguous_or_unknown(bus: Bus, neutron: Neutron) -> None:
    net = await _net(neutron)
    for _ in range(2):
        await neutron.create("security_group", {"name": "web"})
    requested = [(net["id"], None, None, None)]
    message = await _expect(bus, requested, nova.NoUniqueMatch, 409, security_groups=["web"])
    assert (
        message == "Multiple security groups found matching 'web'. Use an ID to be more specific."
    )
    message = await _expect(
        bus, requested, nova.SecurityGroupNotFound, 400, security_groups=["nope"]
    )
    assert message == "Security group nope not found."


async def test_security_group_by_uuid_and_not_another_projects(
    bus: Bus, neutron: Neutron, api: httpx.AsyncClient
) -> None:
    net = await _net(neutron)
    group = await neutron.create("security_group", {"name": "db"})
    [vif] = (
        await _allocate(bus, [(net["id"], None, None, None)], security_groups=[group["id"]])
    ).vifs
    port = (await api.get(f"{V2}/ports/{vif.id}", headers=DEMO)).json()["port"]
    assert port["security_groups"] == [group["id"]]
    admins = await neutron.create("security_group", {"name": "adm"}, ADMIN)
    requested = [(net["id"], None, None, None)]
    await _expect(bus, requested, nova.SecurityGroupNotFound, 400, security_groups=[admins["id"]])


async def test_security_groups_need_port_security_and_a_subnet(bus: Bus, neutron: Neutron) -> None:
    await neutron.create("security_group", {"name": "web"})
    insecure = await _net(neutron, "10.2.0.0/24", port_security_enabled=False)
    message = await _expect(
        bus,
        [(insecure["id"], None, None, None)],
        nova.SecurityGroupCannotBeApplied,
        400,
        security_groups=["web"],
    )
    assert message == (
        "Network requires port_security_enabled and subnet associated in order to "
        "apply security groups."
    )
    secure = await _net(neutron, "10.3.0.0/24")
    open_port = await neutron.port(secure["id"], port_security_enabled=False, security_groups=[])
    await _expect(
        bus,
        [(None, open_port["id"], None, None)],
        nova.SecurityGroupCannotBeApplied,
        400,
        security_groups=["web"],
    )
    no_subnet = await _net(neutron, None)
    await _expect(
        bus, [(no_subnet["id"], None, None, None)], nova.SecurityGroupCannotBeApplied, 400
    )
    [vif] = (await _allocate(bus, [(insecure["id"], None, None, None)])).vifs
    assert vif.details == {"port_filter": False}


async def test_fixed_ip_outside_the_network(bus: Bus, neutron: Neutron) -> None:
    net = await _net(neutron)
    for address in ("192.168.7.7", "10.0.0.0", "not-an-ip"):
        message = await _expect(
            bus, [(net["id"], None, address, None)], nova.FixedIpInvalidForNetwork, 400
        )
        assert message == (
            f"Invalid input received: Fixed IP {address} is not a valid ip address for "
            f"network {net['id']}."
        )


async def test_fixed_ip_taken(bus: Bus, neutron: Neutron) -> None:
    net = await _net(neutron)
    await neutron.port(net["id"], fixed_ips=[{"ip_address": "10.0.0.9"}])
    message = await _expect(
        bus, [(net["id"], None, "10.0.0.9", None)], nova.FixedIpAlreadyInUse, 400
    )
    assert message == "Fixed IP 10.0.0.9 is already in use."


# Rollback: nothing leaks --------------------------------------------------------


async def test_port_quota_exceeded_on_second_nic_rolls_back_the_first(
    bus: Bus, neutron: Neutron, api: httpx.AsyncClient, runtime: Runtime
) -> None:
    net = await _net(neutron)
    limit = {"quota": {"port": 1}}
    assert (await api.put(f"{V2}/quotas/{DEMO_PROJECT}", json=limit, headers=ADMIN)).is_success
    requested = [(net["id"], None, None, None)] * 2
    message = await _expect(bus, requested, nova.PortLimitExceeded, 403)
    assert message == "Maximum number of ports exceeded"
    assert await _ports(runtime) == {}


async def test_failure_restores_preexisting_port_and_deletes_created_ones(
    bus: Bus, neutron: Neutron, runtime: Runtime
) -> None:
    net = await _net(neutron)
    other = await _net(neutron, "10.5.0.0/24")
    mine = await neutron.port(net["id"])
    taken = await neutron.port(other["id"], fixed_ips=[{"ip_address": "10.5.0.20"}])
    before = await _ports(runtime)
    requested = [
        (None, mine["id"], None, None),
        (net["id"], None, None, None),
        (other["id"], None, "10.5.0.20", None),
    ]
    await _expect(bus, requested, nova.FixedIpAlreadyInUse, 400)
    assert await _ports(runtime) == before
    assert before[mine["id"]][:3] == ("", "", "") and taken["id"] in before
    await _expect(
        bus, [*requested[:2], (str(uuid.uuid4()), None, None, None)], nova.NetworkNotFound, 400
    )
    assert await _ports(runtime) == before


# On every engine --------------------------------------------------------------


@pytest.fixture(params=ENGINES)
async def engine_runtime(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Runtime]:
    """A runtime whose network manager serves the in-memory bus, on each engine; port quota 3."""
    network = NetworkSettings(quota_port=3)
    async with runtime_on(request.param, tmp_path, network=network) as runtime:
        runtime.bus = make_bus(BusSettings(transport="memory", call_timeout=30.0))
        managers = await start_managers(runtime, ["network"])
        try:
            yield runtime
        finally:
            await stop_managers(managers)


async def test_concurrent_allocations_stay_within_port_quota(engine_runtime: Runtime) -> None:
    """Two NICs each for four instances at once, port quota 3: one gets both, no one half."""
    async with api_client(engine_runtime) as client:
        net = await _net(Neutron(client))
    assert engine_runtime.bus is not None
    network_api = NetworkAPI(engine_runtime.bus)
    requested = [(net["id"], None, None, None)] * 2
    instances = [_instance() for _ in range(4)]
    results = await asyncio.gather(
        *(
            network_api.allocate_for_instance(DEMO_CTX, i, requested, bind_host_id=HOST)
            for i in instances
        ),
        return_exceptions=True,
    )
    done = [r for r in results if isinstance(r, NetworkInfo)]
    assert len(done) == 1 and len(done[0].vifs) == 2
    assert all(isinstance(r, nova.PortLimitExceeded) for r in results if r not in done)
    assert len(await _ports(engine_runtime)) == 2
    for instance in instances:
        await network_api.deallocate_for_instance(DEMO_CTX, instance.uuid)
    assert await _ports(engine_runtime) == {}
