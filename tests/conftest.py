"""Shared test settings."""

from __future__ import annotations

import os

# Rich sizes tables from COLUMNS: fix it so rendered output is stable.
os.environ["COLUMNS"] = "200"
