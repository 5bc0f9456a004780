"""The history file: one SQLite database, its schema version in meta(schema), and the migrations to it.

Opened in WAL mode with a busy timeout, so several zpfarm processes (a pool of
CI jobs on one machine, two local runs) can write at once: readers never wait,
writers take turns. Every write is one IMMEDIATE transaction. A file of an
older schema is migrated in place, one step at a time, each step in its own
transaction; a file of a newer schema (a newer zpfarm wrote it) is refused,
and so is a database that is not a zpfarm history (tables but no meta).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from farm.model.errors import InfraError, UserError

BUSY_TIMEOUT = 30.0  # seconds a writer waits for another's transaction

# MIGRATIONS[k] takes a file from schema k to k + 1. Never edit a released step: add one.
MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: runs, their suites, each test's status in each suite.
    """
    CREATE TABLE meta(schema INTEGER NOT NULL);
    INSERT INTO meta(schema) VALUES (0);
    CREATE TABLE runs(
        id INTEGER PRIMARY KEY,
        recorded TEXT NOT NULL,        -- when it was recorded (UTC, ISO 8601)
        started TEXT NOT NULL,         -- its earliest suite's start: runs are ordered by it, then by id
        command TEXT NOT NULL,         -- run, test, merge, build-each, bisect-step, host-test, ingest
        source TEXT NOT NULL,          -- the JUnit file it came from, or ""
        zpfarm TEXT NOT NULL,          -- zpfarm's version and commit
        host TEXT NOT NULL             -- the machine's facts: name, arch, cores
    );
    CREATE TABLE suites(
        id INTEGER PRIMARY KEY,
        run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        key TEXT NOT NULL UNIQUE,      -- sha256 of name, start and results: a suite recorded twice is kept once
        name TEXT NOT NULL,            -- CELL/RUNTIME
        cell TEXT NOT NULL,
        runtime TEXT NOT NULL,
        kernel TEXT NOT NULL,
        arch TEXT NOT NULL,
        kconfig TEXT NOT NULL,
        base TEXT NOT NULL,
        base_line TEXT NOT NULL,
        base_commit TEXT NOT NULL,
        commit_ TEXT NOT NULL,
        series TEXT NOT NULL,
        series_hash TEXT NOT NULL,
        patch_ids TEXT NOT NULL,
        build_key TEXT NOT NULL,
        accel TEXT NOT NULL,
        started TEXT NOT NULL,
        elapsed REAL NOT NULL,
        properties TEXT NOT NULL       -- every JUnit property, as JSON
    );
    CREATE INDEX suites_by_run ON suites(run);
    CREATE TABLE tests(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
    CREATE TABLE results(
        suite INTEGER NOT NULL REFERENCES suites(id) ON DELETE CASCADE,
        test INTEGER NOT NULL REFERENCES tests(id),
        status TEXT NOT NULL,          -- farm.model.results.Status's value
        elapsed REAL,
        PRIMARY KEY (suite, test)
    ) WITHOUT ROWID;
    CREATE INDEX results_by_test ON results(test, suite);
    """,
    # 1 -> 2: reruns (failed attempts before the final status), the metrics a test printed, and the
    # series' identity (sha256 over its patch-ids: the same for a version that changed only messages).
    """
    ALTER TABLE results ADD COLUMN failed_attempts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE suites ADD COLUMN series_id TEXT NOT NULL DEFAULT '';
    CREATE TABLE metrics(
        suite INTEGER NOT NULL REFERENCES suites(id) ON DELETE CASCADE,
        test INTEGER NOT NULL REFERENCES tests(id),
        name TEXT NOT NULL,
        value REAL NOT NULL,
        PRIMARY KEY (suite, test, name)
    ) WITHOUT ROWID;
    CREATE INDEX metrics_by_test ON metrics(test, name);
    """,
)
SCHEMA = len(MIGRATIONS)


def connect(path: Path, timeout: float = BUSY_TIMEOUT) -> sqlite3.Connection:
    """The history at path (made when missing), migrated to SCHEMA.

    UserError: not a zpfarm history, or one of a newer schema. InfraError:
    it cannot be opened, read or written (locked past the timeout, read-only,
    a disk error).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    except (OSError, sqlite3.Error) as e:
        raise InfraError(f"history {path}: cannot open it ({e})") from None
    try:
        db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA cache_size = -65536")  # KiB: the per-test index of a big ingest stays in memory
        _retrying(lambda: _setup(db, path), timeout)
    except sqlite3.DatabaseError as e:
        db.close()
        raise problem(path, e) from None
    except BaseException:
        db.close()
        raise
    return db


def _setup(db: sqlite3.Connection, path: Path) -> None:
    if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        db.execute("PRAGMA journal_mode = WAL")
    migrate(db, path)


def _retrying(step: Callable[[], None], timeout: float) -> None:
    """step, again while the file is busy: switching to WAL and a WAL's recovery by another process
    answer "locked" at once, without SQLite's busy handler."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return step()
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def problem(path: Path, e: sqlite3.Error) -> UserError | InfraError:
    """The one line a SQLite error on the history file becomes."""
    text = str(e)
    if isinstance(e, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return InfraError(f"history {path}: locked by another writer for too long ({text})")
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return InfraError(f"history {path}: cannot write it ({text})")
    if isinstance(e, sqlite3.DatabaseError) and not isinstance(e, sqlite3.OperationalError | sqlite3.IntegrityError):
        return UserError(f"history {path}: not a zpfarm history, or damaged ({text})")
    return InfraError(f"history {path}: {text}")


def version(db: sqlite3.Connection, path: Path) -> int:
    """The file's schema: 0 for an empty database; UserError for a database that is not a history."""
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "meta" not in tables:
        if tables:
            raise UserError(f"history {path}: a SQLite database, but not a zpfarm history (tables: {sorted(tables)})")
        return 0
    row = db.execute("SELECT schema FROM meta").fetchone()
    if row is None or not isinstance(row[0], int):
        raise UserError(f"history {path}: not a zpfarm history (no schema version in its meta table)")
    return int(row[0])


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring the file to SCHEMA, one step per transaction (another process may be doing the same)."""
    while (found := version(db, path)) < SCHEMA:
        db.execute("BEGIN IMMEDIATE")
        try:
            if version(db, path) == found:  # another writer may have migrated it meanwhile
                for statement in _statements(MIGRATIONS[found]):
                    db.execute(statement)
                db.execute("UPDATE meta SET schema = ?", (found + 1,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    if found > SCHEMA:
        raise UserError(f"history {path}: schema {found} was written by a newer zpfarm (this one knows up to {SCHEMA})")


def _statements(script: str) -> list[str]:
    """A migration's statements (executescript would commit the transaction first)."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line.split("--", 1)[0] + ("\n" if "--" in line else "")
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    return [s for s in statements if s]
