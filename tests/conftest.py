"""Shared test settings."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from farm.host import proc

# Rich sizes tables from COLUMNS: fix it so rendered output is stable.
os.environ["COLUMNS"] = "200"


@pytest.fixture(autouse=True)
def _processes_allowed() -> Iterator[None]:
    """A test that stops every process (proc.stop_all, as Ctrl-C does) must not ban the next test's."""
    yield
    proc.allow_new()


@pytest.fixture(scope="session")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two versions of kernel-series/v6.12 posted in one thread, imported through b4 (tests/lore.py)."""
    import lore

    return lore.two_versions(tmp_path_factory.mktemp("two-versions"))
