from __future__ import annotations

from pathlib import Path

import pytest

from cumulo.config import load_settings, reference_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_generated_reference_is_current() -> None:
    committed = (ROOT / "docs" / "config-reference.md").read_text()
    assert committed == reference_markdown(), "run `make config-reference`"


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[api]\nport = 9000\nbind = "0.0.0.0"\n[bus]\ntransport = "rabbit"\n')
    monkeypatch.setenv("CUMULO_API__PORT", "9100")
    settings = load_settings(config)
    assert settings.api.port == 9100
    assert settings.api.bind == "0.0.0.0"
    assert settings.bus.transport == "rabbit"
    assert settings.public_url == "http://127.0.0.1:9100"
    assert load_settings(config, api={"port": 9200}).api.port == 9200


def test_unknown_option_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[api]\nprot = 1\n")
    with pytest.raises(ValueError, match="prot"):
        load_settings(config)
