"""`cumulo audit`: finds what a crash left behind, exits 1, and `--repair` makes it clean."""

from __future__ import annotations

import datetime
import subprocess
import sys
from pathlib import Path

from sqlalchemy import update

from cumulo.db.base import utcnow
from cumulo.db.models.instances import Instance
from tests.boot_cloud import boot_cloud

CUMULO = str(Path(sys.executable).parent / "cumulo")


def _audit(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CUMULO, "audit", "--config", str(config), *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


async def test_audit_finds_and_repairs_leaks_and_stuck_builds(tmp_path: Path) -> None:
    async with boot_cloud(tmp_path) as cloud:
        config = tmp_path / "cumulo.toml"
        config.write_text(f'state_dir = "{tmp_path}"\n[database]\nurl = "{cloud.runtime.db.url}"\n')
        assert _audit(config).returncode == 0

        crashed = await cloud.create("crashed")
        await cloud.wait(crashed, "active")
        stuck = await cloud.create("stuck")
        await cloud.wait(stuck, "active")
        long_ago = utcnow() - datetime.timedelta(hours=2)
        async with cloud.runtime.db.write() as session:
            # A process died after marking the row deleted, before giving anything back.
            await session.execute(
                update(Instance).where(Instance.uuid == crashed).values(deleted=Instance.id)
            )
            # Another died in the middle of a build, two hours ago.
            await session.execute(
                update(Instance)
                .where(Instance.uuid == stuck)
                .values(
                    vm_state="building", task_state="spawning", created_at=long_ago,
                    updated_at=long_ago,
                )
            )  # fmt: skip

        # The crashed server's guest files stayed on its host; a live server's are its own.
        _guest_files(tmp_path, crashed)
        _guest_files(tmp_path, stuck)
        _guest_files(tmp_path, "_base")

        found = _audit(config)
        assert found.returncode == 1
        kinds = {line.split()[0] for line in found.stdout.splitlines()}
        assert kinds == {"port", "allocation", "stuck", "files"}
        assert [line.split()[1] for line in found.stdout.splitlines() if "files" in line] == [
            crashed
        ]
        assert crashed in found.stdout and stuck in found.stdout

        repaired = _audit(config, "--repair")
        assert repaired.returncode == 1
        assert "repaired" in repaired.stderr
        clean = _audit(config)
        assert clean.returncode == 0, clean.stdout
        assert "clean" in clean.stdout
        row = await cloud.instance(stuck)
        assert (row.vm_state, row.task_state, row.host) == ("error", None, None)
        assert await cloud.ports_of(crashed) == 0
        assert {p.name for p in (tmp_path / "instances").iterdir()} == {"_base", stuck}
        assert await cloud.allocations_of(stuck) == 0


def _guest_files(state: Path, name: str) -> None:
    directory = state / "instances" / name
    directory.mkdir(parents=True)
    (directory / "console.log").write_text("guest output\n")
