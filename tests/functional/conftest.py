from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.functional.cloud import Cloud, free_port


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """One ``cumulo up`` per test module (tests in a module run on one xdist worker)."""
    c = Cloud(tmp_path_factory.mktemp("cumulo"), free_port())
    c.up()
    try:
        yield c
    finally:
        c.down()
