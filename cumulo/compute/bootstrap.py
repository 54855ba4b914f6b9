"""The flavors a new cloud starts with (DevStack's m1.* set, plus c1.nano for tiny guests)."""

from __future__ import annotations

from sqlalchemy import or_, select

from cumulo.db import Database
from cumulo.db.models.compute import Flavor

# (flavorid, name, RAM MiB, vCPUs, root disk GB)
DEFAULT_FLAVORS: tuple[tuple[str, str, int, int, int], ...] = (
    ("1", "m1.tiny", 512, 1, 1),
    ("2", "m1.small", 2048, 1, 20),
    ("3", "m1.medium", 4096, 2, 40),
    ("4", "m1.large", 8192, 4, 80),
    ("42", "c1.nano", 128, 1, 1),
)


async def ensure_default_flavors(db: Database) -> None:
    """Create each default flavor whose id and name are both free; never change existing ones.

    Safe on every start: a flavor an operator deleted or renamed is made
    again only if neither its id nor its name has been taken since.
    """
    async with db.write() as session:
        for flavorid, name, ram, vcpus, disk in DEFAULT_FLAVORS:
            taken = await session.scalar(
                select(Flavor.id).where(or_(Flavor.flavorid == flavorid, Flavor.name == name))
            )
            if taken is None:
                session.add(
                    Flavor(
                        flavorid=flavorid,
                        name=name,
                        memory_mb=ram,
                        vcpus=vcpus,
                        root_gb=disk,
                        ephemeral_gb=0,
                        swap=0,
                        rxtx_factor=1.0,
                        is_public=True,
                        disabled=False,
                    )
                )
                await session.flush()
