"""The default flavors: created once, kept as the operator leaves them."""

from __future__ import annotations

from sqlalchemy import select

from cumulo.compute.bootstrap import ensure_default_flavors
from cumulo.db.models.compute import Flavor
from cumulo.runtime import Runtime


async def _flavors(runtime: Runtime) -> dict[str, tuple[str, int, int, int]]:
    async with runtime.db.read() as session:
        rows = (await session.scalars(select(Flavor))).all()
    return {f.flavorid: (f.name, f.memory_mb, f.vcpus, f.root_gb) for f in rows}


async def test_defaults_are_created_once(runtime: Runtime) -> None:
    await ensure_default_flavors(runtime.db)
    await ensure_default_flavors(runtime.db)
    assert await _flavors(runtime) == {
        "1": ("m1.tiny", 512, 1, 1),
        "2": ("m1.small", 2048, 1, 20),
        "3": ("m1.medium", 4096, 2, 40),
        "4": ("m1.large", 8192, 4, 80),
        "42": ("c1.nano", 128, 1, 1),
    }


async def test_existing_flavors_are_left_alone(runtime: Runtime) -> None:
    async with runtime.db.write() as session:
        session.add(Flavor(flavorid="1", name="my.tiny", memory_mb=256, vcpus=1, root_gb=1))
        session.add(Flavor(flavorid="x", name="m1.small", memory_mb=999, vcpus=9, root_gb=9))
    await ensure_default_flavors(runtime.db)
    flavors = await _flavors(runtime)
    assert flavors["1"] == ("my.tiny", 256, 1, 1)
    assert flavors["x"] == ("m1.small", 999, 9, 9)
    assert "2" not in flavors
    assert flavors["3"][0] == "m1.medium"
