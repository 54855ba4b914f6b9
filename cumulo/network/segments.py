"""VXLAN network identifiers: each VXLAN network's segment gets one of its own (Neutron's
ML2 ``vxlan`` type driver with ``vni_ranges = 1:16777215``)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo import exception
from cumulo.db.models.network import VxlanAllocation

VNI_MIN = 1
VNI_MAX = 2**24 - 1


class TunnelIdInUse(exception.Conflict):
    message = "Unable to create the network. The tunnel ID %(tunnel_id)s is in use."


async def allocate_vni(session: AsyncSession, network_id: str, wanted: int | None) -> int:
    """``wanted`` (an admin's ``provider:segmentation_id``) or the lowest free VNI, held for
    ``network_id``. A concurrent allocation of the same free VNI fails the transaction
    with ``IntegrityError``: the caller runs it again (``port_store.with_retries``)."""
    if wanted is not None:
        if not VNI_MIN <= wanted <= VNI_MAX:
            raise exception.Invalid(
                f"Invalid input for operation: segmentation_id {wanted} out of range "
                f"({VNI_MIN} through {VNI_MAX})."
            )
        taken = await session.scalar(
            select(VxlanAllocation.vni).where(VxlanAllocation.vni == wanted)
        )
        if taken is not None:
            raise TunnelIdInUse(tunnel_id=wanted)
        vni = wanted
    else:
        vni = VNI_MIN
        for used in await session.scalars(
            select(VxlanAllocation.vni).order_by(VxlanAllocation.vni)
        ):
            if used != vni:
                break
            vni += 1
    session.add(VxlanAllocation(vni=vni, network_id=network_id))
    try:
        await session.flush()
    except IntegrityError:
        if wanted is not None:
            raise TunnelIdInUse(tunnel_id=wanted) from None
        raise
    return vni


async def release(session: AsyncSession, network_id: str) -> None:
    await session.execute(delete(VxlanAllocation).where(VxlanAllocation.network_id == network_id))
