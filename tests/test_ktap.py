"""Tests for farm.ktap against the real-log corpus in tests/data/ktap."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from farm.judge.ktap import MAX_DEPTH, KtapNode, KtapStatus, leaves, parse, strip_prefix, walk

DATA = Path(__file__).parent / "data" / "ktap"
CORPUS = sorted(DATA.glob("*.log"))


def _parse_file(name: str) -> KtapNode:
    return parse((DATA / name).read_text())


def _leaf(root: KtapNode, name: str) -> KtapNode:
    found = dict(leaves(root))
    assert name in found, sorted(found)
    return found[name]


def test_corpus_is_there() -> None:
    assert len(CORPUS) >= 15
    for log in CORPUS:
        assert log.with_suffix(".expected.json").exists(), log


@pytest.mark.parametrize("log", CORPUS, ids=[p.stem for p in CORPUS])
def test_corpus_matches_expected(log: Path) -> None:
    expected: dict[str, Any] = json.loads(log.with_suffix(".expected.json").read_text())
    root = parse(log.read_text())
    assert root.name == ""
    assert root.status.name == expected["status"]
    if expected["leaves"] is not None:
        got = [[name, node.status.name, node.directive] for name, node in leaves(root)]
        assert got == expected["leaves"]
    else:
        counts = Counter(node.status.name for _, node in leaves(root))
        assert dict(counts) == expected["counts"]
    errors = [[path, error] for path, node in walk(root) for error in node.errors]
    assert errors == expected["errors"]


def test_kselftest_cow_counts_match_its_totals_line() -> None:
    root = _parse_file("mm_cow.log")
    assert len(root.children) == 670
    assert root.children[1].name == "#2"
    assert root.children[1].directive == "SKIP MADV_PAGEOUT did not work, is swap enabled?"
    assert root.children[0].log[-1] == "# [RUN] Basic COW after fork() ... with base page"
    assert root.log == ("# Totals: pass:212 fail:0 xfail:0 xpass:0 skip:458 error:0",)


def test_runner_nesting_with_hash_prefix() -> None:
    root = _parse_file("kselftest_runner.log")
    names = [child.name for child in root.children]
    assert names == [f"selftests: zp: {p}" for p in ("ksft_mixed", "harness_demo", "crash_midway", "bail_out")]
    mixed = root.children[0]
    assert mixed.status is KtapStatus.NOT_OK
    assert mixed.directive == "exit=1"
    assert mixed.log[:2] == ("# timeout set to 45", "# selftests: zp: ksft_mixed")
    assert "# Totals: pass:1 fail:1 xfail:1 xpass:0 skip:1 error:0" in mixed.log
    shmem = mixed.children[1]
    assert shmem.log == (
        "# read fault on a shmem hole allocated memory",
        "# metric: shmem_delta_kb=65536",
    )
    assert shmem.metrics == {"shmem_delta_kb": 65536.0}


def test_harness_metric_after_th_log_prefix() -> None:
    fails = _leaf(_parse_file("harness_demo.log"), "global.fails")
    assert fails.status is KtapStatus.NOT_OK
    assert fails.metrics == {"shmem_delta_kb": 65536.0}
    assert "# harness_demo.c:7:fails:Expected 0 (0) == 1 (1)" in fails.log


def test_xfail_and_todo_are_not_passes() -> None:
    root = parse("TAP version 13\n1..3\nok 1 # XFAIL zero page\nok 2 a # TODO later\nnot ok 3 b # TODO\n")
    assert [c.status for c in root.children] == [KtapStatus.NOT_OK] * 3
    assert [c.directive for c in root.children] == ["XFAIL zero page", "TODO later", "TODO"]
    assert [c.name for c in root.children] == ["#1", "a", "b"]


def test_result_forms() -> None:
    root = parse("ok 1 - dash name\nok 2 plain name\nnot ok 3 skipped # SKIP no THP\nok 4 esc \\# hash\n")
    assert root.errors == ()  # a missing plan and version are fine
    assert [c.name for c in root.children] == ["dash name", "plain name", "skipped", "esc # hash"]
    assert [c.status for c in root.children] == [
        KtapStatus.OK,
        KtapStatus.OK,
        KtapStatus.SKIP,
        KtapStatus.OK,
    ]


def test_crash_midway_leaves_missing_nodes() -> None:
    root = _parse_file("crash_midway.log")
    assert [c.status for c in root.children] == [
        KtapStatus.OK,
        KtapStatus.NOT_OK,
        KtapStatus.MISSING,
        KtapStatus.MISSING,
        KtapStatus.MISSING,
    ]
    assert root.errors == ("expected 5 tests, got 2: crashed or stopped early",)
    assert root.children[0].metrics == {"rss_kb": 1024.0, "faults": 3.0}


def test_bail_out_keeps_following_lines_in_log() -> None:
    root = _parse_file("bail_out.log")
    assert root.status is KtapStatus.MISSING
    assert root.errors[0].endswith("bail out: cannot open /proc/self/pagemap: Permission denied")
    assert "# Planned tests != run tests (3 != 1)" in root.log


def test_nested_bail_out_does_not_swallow_the_parent_result() -> None:
    bail = _parse_file("kselftest_runner.log").children[3]
    assert bail.status is KtapStatus.NOT_OK
    assert bail.directive == "exit=1"
    assert [c.status for c in bail.children] == [
        KtapStatus.OK,
        KtapStatus.MISSING,
        KtapStatus.MISSING,
    ]


def test_panic_inside_a_suite() -> None:
    root = _parse_file("kunit_panic_interrupt.log")
    suite = root.children[2]
    assert suite.name == "string-stream-test"
    assert suite.status is KtapStatus.MISSING
    assert any(line.startswith("Kernel panic - not syncing") for line in suite.log)


def test_dmesg_prefix_and_interleaved_kernel_lines() -> None:
    root = _parse_file("kunit_interrupted.log")
    cleanup = _leaf(root, "kunit-resource-test.kunit_resource_test_cleanup_resources")
    assert "kAFS: Red Hat AFS client v0.1 registering." in cleanup.log
    assert strip_prefix("[   12.345678] zpfarm: begin x") == "zpfarm: begin x"
    assert strip_prefix("[    0.060000][    T1] \tok 1 a") == "\tok 1 a"
    assert strip_prefix("no prefix [1.0] ") == "no prefix [1.0]"


def test_plan_count_mismatch_too_many() -> None:
    root = parse("KTAP version 1\n1..1\nok 1 a\nok 2 b\n")
    assert root.errors == ("expected 1 tests, got 2",)


def test_unknown_version_and_no_results() -> None:
    assert parse("KTAP version 7\n1..0\n").errors == ("line 1: unknown version 'KTAP version 7'",)
    empty = parse("")
    assert empty.errors == ("no test results found",)
    assert empty.children == ()


def test_bad_metric_is_an_error_not_an_exception() -> None:
    root = parse("1..1\n# metric: delta=lots\nok 1 a\n")
    assert root.children[0].metrics == {}
    assert root.children[0].errors == ("bad metric 'delta=lots' in '# metric: delta=lots'",)


def test_leaves_of_a_flat_program_are_the_programs() -> None:
    root = parse("TAP version 13\n1..2\nok 1 coherence\nnot ok 2 memory\n")
    assert [name for name, _ in leaves(root)] == ["coherence", "memory"]


def test_garbage_never_raises() -> None:
    garbage = "\x00\x07 ok\nnot ok x y z # \n    1..\n\tok 99999999999999999999 a\n"
    root = parse((garbage + "# Subtest:\nBail out!\n") * 3)
    assert root.status is KtapStatus.MISSING  # the indented result opened a block
    assert root.errors == ("line 6: bail out: no reason",)


def test_absurd_nesting_does_not_recurse_forever() -> None:
    deep = "".join("# " * depth + "1..1\n" for depth in range(1, 2000))
    root = parse(deep + "ok 1 top\n")
    assert root.children[-1].name == "top"
    depth, node = 0, root
    while node.children:
        node, depth = node.children[0], depth + 1
    assert depth <= MAX_DEPTH + 1
