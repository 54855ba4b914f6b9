"""Building an instance's ``NetworkInfo`` from its ports (Nova's ``_build_network_info_model``)."""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.db.models.network import InstanceVif, IPAllocation, Network, Port, Subnet
from cumulo.network import model, port_store


def _subnet(row: Subnet, addresses: list[IPAllocation]) -> model.Subnet:
    version = row.ip_version
    gateway = (
        model.IP(address=row.gateway_ip, type="gateway", version=version)
        if row.gateway_ip
        else None
    )
    return model.Subnet(
        id=row.id,
        cidr=row.cidr,
        version=version,
        gateway=gateway,
        dns=[
            model.IP(address=d, type="dns", version=ipaddress.ip_address(d).version)
            for d in row.dns_nameservers
        ],
        ips=[model.FixedIP(address=a.ip_address, version=version) for a in addresses],
        routes=[
            model.Route(
                cidr=r["destination"],
                gateway=model.IP(address=r["nexthop"], type="gateway", version=version),
            )
            for r in row.host_routes
        ],
        dhcp_enabled=row.enable_dhcp,
    )


def _network(net: Network, subnets: dict[str, Subnet], ips: list[IPAllocation]) -> model.Network:
    by_subnet: dict[str, list[IPAllocation]] = {}
    for allocation in ips:
        by_subnet.setdefault(allocation.subnet_id, []).append(allocation)
    return model.Network(
        id=net.id,
        label=net.name,
        bridge=model.bridge_name(net.id),
        mtu=net.mtu,
        project_id=net.project_id,
        subnets=[_subnet(subnets[sid], found) for sid, found in by_subnet.items()],
    )


def _vif(port: Port, network: model.Network, vif: InstanceVif | None) -> model.VIF:
    return model.VIF(
        id=port.id,
        address=port.mac_address,
        network=network,
        type=port.vif_type,
        details={"port_filter": port.port_security_enabled},
        devname=model.devname(port.id),
        vnic_type=port.vnic_type,
        active=port.status == "ACTIVE",
        preserve_on_delete=vif.preserve_on_delete if vif is not None else False,
        tag=vif.tag if vif is not None else None,
    )


async def build(
    session: AsyncSession, instance_uuid: str, visible: Any = True
) -> model.NetworkInfo:
    """The VIFs of the ports on ``instance_uuid`` (among ``visible``), in the instance's order."""
    ports = list(
        await session.scalars(select(Port).where(Port.device_id == instance_uuid, visible))
    )
    vifs = {
        v.port_id: v
        for v in await session.scalars(
            select(InstanceVif).where(InstanceVif.instance_uuid == instance_uuid)
        )
    }
    ports.sort(key=lambda p: (vifs[p.id].position if p.id in vifs else len(vifs), p.id))
    ips = await port_store.ips_of(session, [p.id for p in ports])
    nets = {
        n.id: n
        for n in await session.scalars(
            select(Network).where(Network.id.in_({p.network_id for p in ports}))
        )
    }
    subnet_ids = {a.subnet_id for found in ips.values() for a in found}
    subnets = {
        s.id: s for s in await session.scalars(select(Subnet).where(Subnet.id.in_(subnet_ids)))
    }
    return model.NetworkInfo(
        vifs=[
            _vif(p, _network(nets[p.network_id], subnets, ips.get(p.id, [])), vifs.get(p.id))
            for p in ports
        ]
    )
