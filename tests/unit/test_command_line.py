from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cumulo.cmd.main import app

COMMANDS = [
    [], ["up"], ["down"], ["status"], ["serve"], ["bootstrap"], ["db"], ["db", "upgrade"],
    ["db", "version"], ["config"], ["config", "reference"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "cumulo")
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_unknown_service_is_refused() -> None:
    result = CliRunner().invoke(app, ["serve", "nonsense"])
    assert result.exit_code == 2
    assert "nonsense" in result.output


def test_status_of_a_stopped_cloud(tmp_path: object) -> None:
    result = CliRunner().invoke(app, ["status", "--state-dir", str(tmp_path)])
    assert result.exit_code == 3
    assert "not running" in result.output
