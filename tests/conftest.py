"""Shared test settings."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from farm.host import proc

# Rich sizes tables from COLUMNS: fix it so rendered output is stable.
os.environ["COLUMNS"] = "200"


@pytest.fixture(autouse=True)
def _processes_allowed() -> Iterator[None]:
    """A test that stops every process (proc.stop_all, as Ctrl-C does) must not ban the next test's."""
    yield
    proc.allow_new()
