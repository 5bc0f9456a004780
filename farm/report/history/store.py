"""The history file's reader and writer: record runs, ingest JUnit files, ask about a test.

Queries name a test exactly ("coherence.read_then_remote_write[memfd,shared]": test
names hold brackets) and cells by a glob over CELL or CELL/RUNTIME, as --cell does.
Runs are ordered by when they started, then by their number (the order they
were recorded in).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import farm.report.history.read as read
import farm.report.history.schema as schema
import farm.report.history.trend as trend
from farm.host import provenance
from farm.model.errors import UserError
from farm.model.results import Status, Suite
from farm.report.history.values import FAILED, PASSED, FlakyTest, MetricSample, Rate, RunOutcome, Summary, Trend

ENV = "ZPFARM_HISTORY"
FILE_NAME = "history.sqlite"
DEFAULT = Path("results") / FILE_NAME  # beside the default results directories (results/latest, ...)
BATCH_CASES = 50_000  # results per write transaction when ingesting many files
_COUNTED = tuple(s.value for s in (*PASSED, *FAILED))
_VALUE = {s: s.value for s in Status}  # Enum.value is a descriptor call: ingest asks it a million times
_OUTCOME_COLUMNS = """u.id, s.started, s.name, s.cell, s.runtime, s.base, s.base_line, s.commit_, s.series,
    s.series_hash, r.status, r.failed_attempts, s.series_id"""

_KERNEL = "CASE WHEN s.build_key != '' THEN s.build_key WHEN s.commit_ != '' THEN s.commit_ || ' ' || s.series_hash END"


def default_path(results: Path) -> Path:
    """Where a command whose results go to results keeps its history: beside that directory."""
    return results.parent / FILE_NAME


def host_facts() -> str:
    """This machine as a run records it: 'name (x86_64, 2 cores, Linux 6.1.0-28-amd64)'."""
    return provenance.machine()


@dataclass(frozen=True)
class RunMeta:
    """What a run was, beyond its suites: the command, the JUnit it came from, zpfarm's revision, the host."""

    command: str  # run, test, merge, build-each, bisect-step, host-test, ingest
    source: str = ""  # the JUnit file, for an ingested one
    zpfarm: str = ""  # default: the suites' "zpfarm" property
    host: str = ""  # default: the suites' "host" property


@dataclass(frozen=True)
class Recorded:
    """What one record or ingest added: the run's number (None: every suite was there already)."""

    run: int | None
    suites: int  # suites recorded
    repeated: int  # suites already in the history (the same artifact ingested twice)
    cases: int
    source: str = ""


class History:
    """An open history file. Use as a context manager, or close() it."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db = db
        self.path = path
        self._tests: dict[str, int] = {}

    @classmethod
    def open(cls, path: Path, *, timeout: float = schema.BUSY_TIMEOUT, create: bool = True) -> History:
        """The history at path, migrated to the current schema (made when missing unless create is False).

        UserError: no such file (create False), not a history, a newer schema. InfraError: cannot open or write.
        """
        if not create and not path.is_file():
            raise UserError(f"history {path}: no such file (runs record into it; `zpfarm history ingest` adds JUnit)")
        return cls(schema.connect(path, timeout), path)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing -----------------------------------------------------------------------------

    def record(self, suites: Sequence[Suite], meta: RunMeta) -> Recorded:
        """Record a run's suites as one run (a suite already in the history is not recorded again)."""
        return self.record_suites(read.from_suites(suites), meta)

    def ingest(self, paths: Sequence[Path]) -> list[Recorded]:
        """Record each JUnit file as one run, in the order given; every file is checked before any is recorded.

        Files go in batches of about BATCH_CASES results per transaction: fewer commits, and
        another writer never waits long.
        """
        read_all = [(path, read.from_junit(path)) for path in paths]
        done: list[Recorded] = []
        while read_all:
            batch: list[tuple[Path, list[read.SuiteRecord]]] = []
            cases = 0
            while read_all and (not batch or cases < BATCH_CASES):
                batch.append(read_all.pop(0))
                cases += sum(len(s.cases) for s in batch[-1][1])
            with self._writing():
                done += [self._record(records, RunMeta("ingest", str(path))) for path, records in batch]
        return done

    def record_suites(self, records: Sequence[read.SuiteRecord], meta: RunMeta) -> Recorded:
        """Record suites as one run, in a transaction of its own."""
        with self._writing():
            return self._record(records, meta)

    def _record(self, records: Sequence[read.SuiteRecord], meta: RunMeta) -> Recorded:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        props = [r.properties for r in records]
        zpfarm = meta.zpfarm or next((p["zpfarm"] for p in props if p.get("zpfarm")), "")
        host = meta.host or next((p["host"] for p in props if p.get("host")), "")
        started = min((r.started for r in records if r.started), default=now)
        run = self.db.execute(
            "INSERT INTO runs(recorded, started, command, source, zpfarm, host) VALUES (?, ?, ?, ?, ?, ?)",
            (now, started, meta.command, meta.source, zpfarm, host),
        ).lastrowid
        assert run is not None
        added = repeated = cases = 0
        for record in records:
            if self._suite(run, record, now):
                added, cases = added + 1, cases + len(record.cases)
            else:
                repeated += 1
        if not added:
            self.db.execute("DELETE FROM runs WHERE id = ?", (run,))
        return Recorded(run if added else None, added, repeated, cases, meta.source)

    def _writing(self) -> _Transaction:
        return _Transaction(self.db, self.path)

    def _suite(self, run: int, r: read.SuiteRecord, now: str) -> bool:
        p = r.properties
        cell, _, runtime = r.name.partition("/")
        series_hash = p.get("series_hash", "")
        row = {
            "run": run,
            "key": _suite_key(r),
            "name": r.name,
            "cell": p.get("cell") or cell,
            "runtime": p.get("runtime") or runtime,
            "kernel": p.get("kernel", ""),
            "arch": p.get("arch", ""),
            "kconfig": p.get("kconfig", ""),
            "base": p.get("base", ""),
            "base_line": p.get("base_line", ""),
            "base_commit": p.get("base_commit", ""),
            "commit_": p.get("commit", ""),
            "series": p.get("series") or series_hash[:12],
            "series_hash": series_hash,
            "series_id": p.get("series_id", ""),
            "patch_ids": p.get("patch_ids", ""),
            "build_key": p.get("build_key", ""),
            "accel": p.get("accel", ""),
            "started": r.started or now,
            "elapsed": r.elapsed,
            "properties": json.dumps(dict(p), sort_keys=True),
        }
        columns = ", ".join(row)
        marks = ", ".join(f":{k}" for k in row)
        suite = self.db.execute(
            f"INSERT INTO suites({columns}) VALUES ({marks}) ON CONFLICT(key) DO NOTHING", row
        ).lastrowid
        if not self.db.execute("SELECT changes()").fetchone()[0]:
            return False
        tests = [self._test_id(c.name) for c in r.cases]
        seen: dict[int, read.CaseRecord] = {}
        for test, case in zip(tests, r.cases, strict=True):
            seen[test] = case  # a name twice in a suite (GitLab would drop one): the last one counts
        self.db.executemany(
            "INSERT INTO results(suite, test, status, elapsed, failed_attempts) VALUES (?, ?, ?, ?, ?)",
            [(suite, t, _VALUE[c.status], c.elapsed, c.failed_attempts) for t, c in seen.items()],
        )
        self.db.executemany(
            "INSERT INTO metrics(suite, test, name, value) VALUES (?, ?, ?, ?)",
            [(suite, t, k, v) for t, c in seen.items() for k, v in c.metrics.items()],
        )
        return True

    def _test_id(self, name: str) -> int:
        found = self._tests.get(name)
        if found is None:
            row = self.db.execute(
                "INSERT INTO tests(name) VALUES (?) ON CONFLICT(name) DO UPDATE SET name = name RETURNING id", (name,)
            ).fetchone()
            found = self._tests[name] = int(row[0])
        return found

    # --- reading -----------------------------------------------------------------------------

    def runs(self) -> int:
        """How many runs the history holds."""
        return int(self._query("SELECT COUNT(*) FROM runs")[0][0])

    def outcomes(
        self, test: str, cell_glob: str = "*", base_line: str | None = None, last: int | None = None
    ) -> list[RunOutcome]:
        """Every outcome of test in the suites cell_glob matches (CELL or CELL/RUNTIME), oldest first.

        base_line: only runs on that base (its stable line, v7.3, or its point release, v7.3.4).
        last: only the latest M outcomes.
        """
        where = "r.test = (SELECT id FROM tests WHERE name = ?) AND (s.cell GLOB ? OR s.name GLOB ?)"
        args: list[Any] = [test, cell_glob, cell_glob]
        if base_line is not None:
            where += " AND (s.base_line = ? OR s.base = ?)"
            args += [base_line, base_line]
        limit = f" LIMIT {int(last)}" if last is not None and last > 0 else ""
        rows = self._query(
            f"SELECT {_OUTCOME_COLUMNS} FROM results r JOIN suites s ON s.id = r.suite JOIN runs u ON u.id = s.run "
            f"WHERE {where} ORDER BY u.started DESC, u.id DESC, s.name DESC{limit}",
            args,
        )
        return [_outcome(row) for row in reversed(rows)]

    def passed_before(self, test: str, cell: str, base_line: str | None = None, before_run: int | None = None) -> bool:
        """Whether test ever passed in a suite cell matches (glob over CELL or CELL/RUNTIME), on that base."""
        where = "r.test = (SELECT id FROM tests WHERE name = ?) AND r.status = ? AND (s.cell GLOB ? OR s.name GLOB ?)"
        args: list[Any] = [test, Status.PASS.value, cell, cell]
        where += _scope(args, base_line, before_run)
        rows = self._query(
            f"SELECT EXISTS(SELECT 1 FROM results r JOIN suites s ON s.id = r.suite WHERE {where})", args
        )
        return bool(rows[0][0])

    def fail_rate(
        self,
        test: str,
        cell_glob: str = "*",
        last: int = trend.DEFAULT_LAST,
        base_line: str | None = None,
        before_run: int | None = None,
    ) -> Rate:
        """The failure rate of test over its last M counted outcomes in the matching suites.

        base_line and before_run: as _scope (a run is never judged against itself)."""
        where = "r.test = (SELECT id FROM tests WHERE name = ?) AND (s.cell GLOB ? OR s.name GLOB ?)"
        where += f" AND r.status IN ({', '.join('?' * len(_COUNTED))})"
        args: list[Any] = [test, cell_glob, cell_glob, *_COUNTED]
        where += _scope(args, base_line, before_run)
        rows = self._query(
            f"SELECT r.status, r.failed_attempts FROM results r JOIN suites s ON s.id = r.suite "
            f"JOIN runs u ON u.id = s.run WHERE {where} ORDER BY u.started DESC, u.id DESC, s.name DESC LIMIT ?",
            [*args, max(last, 1)],
        )
        failed = sum(_status(status) in FAILED or attempts > 0 for status, attempts in rows)
        return Rate.of(failed, len(rows))

    def latest_run(self) -> int:
        """The number of the run recorded last (0: none yet)."""
        return int(self._query("SELECT COALESCE(MAX(id), 0) FROM runs")[0][0])

    def summaries(
        self, test: str, cell_glob: str = "*", last: int = trend.DEFAULT_LAST, base_line: str | None = None
    ) -> list[Summary]:
        """One summary per suite (CELL/RUNTIME) the test ran in: streak, trend, first failure, fail rate.

        base_line: only runs on that base (a line, v7.3, or a point release, v7.3.4).
        """
        by_suite: dict[str, list[RunOutcome]] = {}
        for o in self.outcomes(test, cell_glob, base_line):
            by_suite.setdefault(o.suite, []).append(o)
        return [trend.summarize(test, suite, found, last) for suite, found in sorted(by_suite.items())]

    def flaky(self, last: int = trend.DEFAULT_LAST, cell_glob: str = "*") -> list[FlakyTest]:
        """Tests whose outcomes in one suite over the last M runs of the file are flaky, most failing first."""
        failed = ", ".join(f"'{s.value}'" for s in FAILED)
        rows = self._query(
            f"""WITH recent AS (SELECT id, started FROM runs ORDER BY started DESC, id DESC LIMIT ?),
            counted AS (
                SELECT r.test, s.name AS suite, recent.id AS run, recent.started, s.commit_, r.status,
                    r.failed_attempts, r.status IN ({failed}) OR r.failed_attempts > 0 AS bad
                FROM recent CROSS JOIN suites s ON s.run = recent.id CROSS JOIN results r ON r.suite = s.id
                WHERE r.status IN ({", ".join("?" * len(_COUNTED))}) AND (s.cell GLOB ? OR s.name GLOB ?)),
                -- CROSS JOIN: in this order (the last runs' suites first), never a scan of every result
            judged AS (  -- only tests that failed at least once and did not fail throughout can be flaky
                SELECT *, SUM(bad) OVER w AS bad_runs, COUNT(*) OVER w AS runs, MAX(failed_attempts) OVER w AS rerun
                FROM counted WINDOW w AS (PARTITION BY test, suite))
            SELECT t.name, judged.suite, judged.run, judged.commit_, judged.status, judged.failed_attempts
            FROM judged JOIN tests t ON t.id = judged.test
            WHERE bad_runs > 0 AND (bad_runs < runs OR rerun > 0)
            ORDER BY judged.started, judged.run""",
            [max(last, 1), *_COUNTED, cell_glob, cell_glob],
        )
        grouped: dict[tuple[str, str], list[RunOutcome]] = {}
        for test, suite, run, commit, status, attempts in rows:
            grouped.setdefault((test, suite), []).append(_light(run, suite, commit, status, attempts))
        found = []
        for (test, suite), outs in grouped.items():
            if len(outs) < 2 and not any(o.letter == "f" for o in outs):
                continue
            s = trend.summarize(test, suite, outs, last)
            if s.trend is Trend.FLAKY:
                latest = max(o.run for o in outs if o.failed)
                found.append(FlakyTest(test, suite, s.rate, trend.flips(outs), latest))
        return sorted(found, key=lambda f: (-f.rate.rate, f.test, f.suite))

    def metric(self, test: str, name: str, cell_glob: str = "*", last: int | None = None) -> list[MetricSample]:
        """Every value of test's metric name in the suites cell_glob matches, oldest first (the latest M)."""
        limit = f" LIMIT {int(last)}" if last is not None and last > 0 else ""
        rows = self._query(
            f"SELECT u.id, s.started, s.name, s.commit_, s.accel, m.value, {_KERNEL} FROM metrics m "
            "JOIN suites s ON s.id = m.suite JOIN runs u ON u.id = s.run "
            "WHERE m.test = (SELECT id FROM tests WHERE name = ?) AND m.name = ? AND (s.cell GLOB ? OR s.name GLOB ?) "
            f"ORDER BY u.started DESC, u.id DESC, s.name DESC{limit}",
            [test, name, cell_glob, cell_glob],
        )
        return [MetricSample(*row) for row in reversed(rows)]

    def tests_like(self, fragment: str, limit: int = 5) -> list[str]:
        """Test names that contain fragment (for 'did you mean')."""
        pattern = "%" + fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        sql = "SELECT name FROM tests WHERE name LIKE ? ESCAPE '\\' ORDER BY name LIMIT ?"
        rows = self._query(sql, [pattern, limit])
        return [str(r[0]) for r in rows]

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        try:
            return self.db.execute(sql, args).fetchall()
        except sqlite3.Error as e:
            raise schema.problem(self.path, e) from None


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on any error); SQLite errors become one-line farm errors."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db, self.path = db, path

    def __enter__(self) -> None:
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            raise schema.problem(self.path, e) from None

    def __exit__(self, kind: type[BaseException] | None, e: BaseException | None, tb: object) -> None:
        if kind is None:
            try:
                self.db.execute("COMMIT")
                return
            except sqlite3.Error as problem:
                e = problem
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")
        if isinstance(e, sqlite3.Error):
            raise schema.problem(self.path, e) from None


def _suite_key(r: read.SuiteRecord) -> str:
    """What makes a suite the same suite: never change it (a file recorded before would be recorded twice)."""
    text = "\n".join(f"{c.name}\0{_VALUE[c.status]}\0{c.failed_attempts}" for c in r.cases)
    return hashlib.sha256(f"{r.name}\0{r.started}\0\n{text}\n".encode()).hexdigest()


def _outcome(row: Sequence[Any]) -> RunOutcome:
    run, started, suite, cell, runtime, base, line, commit, series, series_hash, status, attempts, ident = row
    found = (run, started, suite, cell, runtime, base, line, commit, series, series_hash)
    return RunOutcome(*found, status=_status(status), failed_attempts=int(attempts), series_id=ident)


def _light(run: int, suite: str, commit: str, status: str, attempts: int) -> RunOutcome:
    cell, _, runtime = suite.partition("/")
    return RunOutcome(run, "", suite, cell, runtime, "", "", commit, "", "", _status(status), int(attempts))


def _status(value: str) -> Status:
    try:
        return Status(value)
    except ValueError:
        return Status.SKIP  # a status a newer zpfarm wrote: not counted


def _scope(args: list[Any], base_line: str | None, before_run: int | None) -> str:
    """SQL limiting suites `s` to a base (line or point release) and to runs before one; appends its args."""
    args += [base_line, base_line] if base_line is not None else []
    args += [before_run] if before_run is not None else []
    base = " AND (s.base_line = ? OR s.base = ?)" if base_line is not None else ""
    return base + (" AND s.run < ?" if before_run is not None else "")
