"""Filters and weighers decide as Nova's do: who fits, who passes, who is best."""

from __future__ import annotations

import random

from cumulo.scheduler.filters import filtered
from cumulo.scheduler.host_state import HostState, Resources
from cumulo.scheduler.request_spec import FlavorSpec, GroupSpec, RequestSpec
from cumulo.scheduler.weighers import ranked, weighed

TINY = FlavorSpec(vcpus=1, memory_mb=512, root_gb=1)
TINY_RES = Resources(1, 512, 1)


def host(name: str, *, vcpus: int = 4, ram: int = 4096, disk: int = 40, **kw: object) -> HostState:
    fields: dict[str, object] = {"availability_zone": "nova", **kw}
    return HostState(
        host=name, nodename=name, node_uuid=f"uuid-{name}",
        total=Resources(vcpus, ram, disk), reserved=Resources(0, 0, 0),
        used=Resources(0, 0, 0), **fields,  # type: ignore[arg-type]
    )  # fmt: skip


def spec(**kw: object) -> RequestSpec:
    fields: dict[str, object] = {"flavor": TINY, **kw}
    return RequestSpec(instance_uuids=["i-1"], project_id="p", **fields)


def names(hosts: list[HostState]) -> list[str]:
    return [h.host for h in hosts]


def test_capacity_uses_reserved_and_allocation_ratio() -> None:
    h = host("a", vcpus=2, ram=1024, disk=10, cpu_allocation_ratio=4.0)
    h.reserved = Resources(0, 512, 0)
    assert h.fits(Resources(8, 512, 10))
    assert not h.fits(Resources(9, 512, 10))
    assert not h.fits(Resources(1, 513, 1))
    h.consume(Resources(8, 512, 10), "i-1")
    assert not h.fits(Resources(1, 1, 0)) and "i-1" in h.instances


def test_boot_from_volume_asks_no_root_disk() -> None:
    flavor = FlavorSpec(vcpus=1, memory_mb=64, root_gb=20, ephemeral_gb=1, swap_mb=1)
    assert spec(flavor=flavor).resources() == Resources(1, 64, 22)
    assert spec(flavor=flavor, is_bfv=True).resources() == Resources(1, 64, 2)


def test_disabled_down_full_and_retried_hosts_are_removed_with_counts() -> None:
    hosts = [host("ok"), host("off", enabled=False), host("dead", up=False),
             host("full", ram=256), host("tried")]  # fmt: skip
    passing, removed = filtered(hosts, spec(ignore_hosts=["tried"]), TINY_RES)
    assert names(passing) == ["ok"]
    assert removed == {"ComputeFilter": 2, "resources": 1, "retry": 1}


def test_availability_zone_and_image_properties() -> None:
    hosts = [host("a"), host("b", availability_zone="east"), host("c", architecture="aarch64")]
    assert names(filtered(hosts, spec(availability_zone="east"), TINY_RES)[0]) == ["b"]
    arm = spec(image_properties={"hw_architecture": "aarch64"})
    assert names(filtered(hosts, arm, TINY_RES)[0]) == ["c"]
    kvm = spec(image_properties={"img_hv_type": "kvm"})
    assert names(filtered(hosts, kvm, TINY_RES)[0]) == ["a", "b", "c"]
    xen = spec(image_properties={"img_hv_type": "xen"})
    assert filtered(hosts, xen, TINY_RES)[0] == []


def test_server_group_policies() -> None:
    hosts = [host("a"), host("b"), host("c")]
    anti = GroupSpec(uuid="g", policy="anti-affinity", hosts=["a", "b"])
    assert names(filtered(hosts, spec(group=anti), TINY_RES)[0]) == ["c"]
    two = GroupSpec(uuid="g", policy="anti-affinity", hosts=["a", "b", "b"], max_server_per_host=2)
    assert names(filtered(hosts, spec(group=two), TINY_RES)[0]) == ["a", "c"]
    aff = GroupSpec(uuid="g", policy="affinity", hosts=["b"])
    assert names(filtered(hosts, spec(group=aff), TINY_RES)[0]) == ["b"]
    first = GroupSpec(uuid="g", policy="affinity", hosts=[])
    assert names(filtered(hosts, spec(group=first), TINY_RES)[0]) == ["a", "b", "c"]


def test_same_and_different_host_hints() -> None:
    hosts = [host("a", instances={"x"}), host("b", instances={"y"}), host("c")]
    assert names(filtered(hosts, spec(same_host=["y"]), TINY_RES)[0]) == ["b"]
    assert names(filtered(hosts, spec(different_host=["x", "y"]), TINY_RES)[0]) == ["c"]


def test_forced_host_skips_filters_but_not_capacity() -> None:
    hosts = [host("a", enabled=False), host("b"), host("small", ram=128)]
    assert names(filtered(hosts, spec(force_hosts=["a"]), TINY_RES)[0]) == ["a"]
    assert filtered(hosts, spec(force_hosts=["small"]), TINY_RES)[0] == []
    assert names(filtered(hosts, spec(force_nodes=["b"]), TINY_RES)[0]) == ["b"]


def test_weighers_prefer_free_resources_and_punish_build_failures() -> None:
    big, small = host("big", ram=8192, vcpus=8), host("small", ram=2048, vcpus=2)
    assert names([h for _w, h in weighed([small, big], spec())]) == ["big", "small"]
    big.failed_builds = 1
    assert names([h for _w, h in weighed([small, big], spec())]) == ["small", "big"]


def test_soft_group_policies_weigh_members() -> None:
    hosts = [host("a"), host("b")]
    soft = GroupSpec(uuid="g", policy="soft-affinity", hosts=["b"])
    assert names([h for _w, h in weighed(hosts, spec(group=soft))]) == ["b", "a"]
    spread = GroupSpec(uuid="g", policy="soft-anti-affinity", hosts=["a"])
    assert names([h for _w, h in weighed(hosts, spec(group=spread))]) == ["b", "a"]


def test_host_subset_size_picks_among_the_best() -> None:
    hosts = [host(f"h{i}", ram=1024 * (i + 1)) for i in range(5)]
    assert names(ranked(hosts, spec()))[0] == "h4"
    firsts = {ranked(hosts, spec(), host_subset_size=3, rng=random.Random(seed))[0].host
              for seed in range(40)}  # fmt: skip
    assert firsts == {"h4", "h3", "h2"}
