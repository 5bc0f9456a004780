"""Recording that never costs a command anything: a history that cannot take a run is one warning line.

A locked history (past the busy timeout), a damaged one, a read-only one, or a
JUnit file that is not one: the caller gets the line to print, and its own
JUnit and exit code stay what they were.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import farm.report.history.read as read
import farm.report.history.schema as schema
from farm.model.errors import ZpfarmError
from farm.model.results import Suite
from farm.report.history.store import History, RunMeta


def keep_junit(path: Path, junit_files: Sequence[Path], meta: RunMeta) -> str | None:
    """Record JUnit files (each one run) into the history at path; never raises. A warning line when it could not."""
    try:
        runs = [(f, read.from_junit(f)) for f in junit_files if f.is_file()]
        if not runs:
            return None
        with History.open(path) as history:
            for junit_file, records in runs:
                history.record_suites(records, dataclasses.replace(meta, source=str(junit_file)))
    except (ZpfarmError, sqlite3.Error, OSError) as e:
        return f"{e}; these results are not in the history (the JUnit is complete)"
    except Exception as e:  # a bug here must not cost the run its exit code either
        return f"history {path}: not recorded ({type(e).__name__}: {e}); the JUnit is complete"
    return None


def keep(path: Path, suites: Sequence[Suite], meta: RunMeta, timeout: float = schema.BUSY_TIMEOUT) -> str | None:
    """Record suites into the history at path; never raises. A warning line when it could not.

    A history another writer holds is waited for up to timeout seconds, then given up.
    """
    if not suites:
        return None
    try:
        with History.open(path, timeout=timeout) as history:
            history.record(suites, meta)
    except (ZpfarmError, sqlite3.Error, OSError) as e:
        return f"{e}; these results are not in the history (the JUnit is complete)"
    except Exception as e:  # a bug here must not cost the run its exit code either
        return f"history {path}: not recorded ({type(e).__name__}: {e}); the JUnit is complete"
    return None
