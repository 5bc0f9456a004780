"""The history file's schema: made, migrated from older files, refused when it is not ours or newer."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from history_data import suite

from farm.model.errors import UserError
from farm.model.results import Status
from farm.report.history import SCHEMA, History, RunMeta, schema


def _schema_of(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT schema FROM meta").fetchone()[0])


def test_a_new_file_has_the_current_schema_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "h.sqlite"
    History.open(path).close()
    assert _schema_of(path) == SCHEMA == 2
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_schema_1_file_is_migrated_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    with sqlite3.connect(path) as db:  # what the first zpfarm with a history wrote
        db.executescript(schema.MIGRATIONS[0])
        db.execute("UPDATE meta SET schema = 1")
        db.execute("INSERT INTO runs VALUES (1, '2026-12-01T00:00:00+00:00', '2026-12-01T00:00:00+00:00', 'run', '', "
                   "'0.1.0', 'farm1')")  # fmt: skip
        columns = "run, key, name, cell, runtime, kernel, arch, kconfig, base, base_line, base_commit, commit_, "
        columns += "series, series_hash, patch_ids, build_key, accel, started, elapsed, properties"
        db.execute(f"INSERT INTO suites({columns}) VALUES (1, 'k', 'base-x86_64-thp-on/default', 'base-x86_64-thp-on', "
                   "'default', 'base', 'x86_64', 'thp-on', 'v7.3.4', 'v7.3', '', 'c0ffee', '', '', '', '', 'tcg', "
                   "'2026-12-01T00:00:00+00:00', 1.0, '{}')")  # fmt: skip
        db.execute("INSERT INTO tests VALUES (1, 'memory.hole')")
        db.execute("INSERT INTO results VALUES (1, 1, 'fail', 0.5)")
    with History.open(path) as history:
        (old,) = history.outcomes("memory.hole")
        assert (old.run, old.status, old.failed_attempts, old.base, old.series_id) == (1, Status.FAIL, 0, "v7.3.4", "")
        history.record([suite(2, [("memory.hole", Status.PASS)])], RunMeta("run"))
        assert [o.letter for o in history.outcomes("memory.hole")] == ["F", "P"]
    assert _schema_of(path) == SCHEMA


def test_an_empty_file_is_schema_0_and_becomes_a_history(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    path.touch()
    with History.open(path) as history:
        assert history.runs() == 0
    assert _schema_of(path) == SCHEMA


def test_another_programs_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE bookmarks(url TEXT)")
    with pytest.raises(UserError, match=r"not a zpfarm history \(tables: \['bookmarks'\]\)"):
        History.open(path)
    with sqlite3.connect(path) as db:
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["bookmarks"]


def test_a_file_from_a_newer_zpfarm_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    History.open(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET schema = ?", (SCHEMA + 1,))
    with pytest.raises(UserError, match=f"schema {SCHEMA + 1} was written by a newer zpfarm"):
        History.open(path)
