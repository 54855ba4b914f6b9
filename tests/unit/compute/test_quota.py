"""Limits and usage: defaults, project rows, unlimited, and the over-quota check."""

from __future__ import annotations

import pytest

from cumulo.compute import quota
from cumulo.config import ComputeSettings
from cumulo.db.models.compute import Quota
from cumulo.exception import OverQuota
from cumulo.runtime import Runtime


def test_overs_respects_unlimited() -> None:
    limits = {"instances": 2, "cores": -1, "ram": 100}
    usage = {"instances": 2, "cores": 1000, "ram": 50}
    assert quota.overs(limits, usage, {"instances": 1, "cores": 8, "ram": 50}) == ["instances"]
    assert quota.overs(limits, usage, {"instances": 0, "ram": 51}) == ["ram"]


async def test_check_deltas(runtime: Runtime) -> None:
    settings = ComputeSettings(quota_instances=1)
    async with runtime.db.write() as session:
        session.add(Quota(project_id="p", resource="cores", hard_limit=2))
    async with runtime.db.read() as session:
        await quota.check_deltas(session, settings, "p", {"instances": 1, "cores": 2})
        with pytest.raises(OverQuota, match="Quota exceeded for resources: cores, instances"):
            await quota.check_deltas(session, settings, "p", {"instances": 2, "cores": 3})
        assert await quota.project_usage(session, "p") == {
            "instances": 0, "cores": 0, "ram": 0, "server_groups": 0
        }  # fmt: skip
