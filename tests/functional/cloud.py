"""A real cumulo in a subprocess, and the unmodified ``openstack`` CLI pointed at it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
CUMULO = str(BIN / "cumulo")
OPENSTACK = str(BIN / "openstack")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CLIError(Exception):
    def __init__(self, result: subprocess.CompletedProcess[str]) -> None:
        self.result = result
        super().__init__(f"rc={result.returncode}\n{result.stdout}\n{result.stderr}")


@dataclass
class Cloud:
    state_dir: Path
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def clouds_yaml(self) -> Path:
        return self.state_dir / "clouds.yaml"

    def cumulo(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run([CUMULO, *args, "--state-dir", str(self.state_dir)], check=check)

    def up(self, *extra: str) -> None:
        self.cumulo("up", "--port", str(self.port), "--background", *extra)

    def down(self) -> None:
        self.cumulo("down")

    def osc(self, *args: str, cloud: str = "cumulo", as_json: bool = True) -> Any:
        return osc(self.clouds_yaml, *args, cloud=cloud, as_json=as_json)


def run(
    command: list[str], check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=180, env=full_env, stdin=subprocess.DEVNULL
    )
    if check and result.returncode != 0:
        raise CLIError(result)
    return result


def osc(
    clouds_yaml: Path,
    *args: str,
    cloud: str = "cumulo",
    env: dict[str, str] | None = None,
    as_json: bool = True,
) -> Any:
    """The unmodified openstack CLI: parsed ``-f json`` output, or the process (``as_json=False``
    for commands that print nothing, such as delete)."""
    env = {"OS_CLIENT_CONFIG_FILE": str(clouds_yaml), **(env or {})}
    command = [OPENSTACK, "--os-cloud", cloud, *args] + (["-f", "json"] if as_json else [])
    result = run(command, check=False, env=env)
    if result.returncode != 0:
        raise CLIError(result)
    return json.loads(result.stdout) if as_json else result
