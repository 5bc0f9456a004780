"""farm.report.diff, farm.report.coverage, farm.report.coverage_page on a tiny captured series.

tests/data/coverage/series: two real `git format-patch` patches of mm/zp.c (the
second rewrites a line of the first and shifts it down) and a new mm/arch_only.c;
src/ is the tip; zp.gcov.json is gcov's JSON for the tip compiled with --coverage
and run once with no argument (so zero_read's `x > 5` branch and helper never ran).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from farm.model.errors import UserError
from farm.report import coverage, coverage_page, diff

DATA = Path(__file__).parent / "data" / "coverage"


def series() -> list[diff.Patch]:
    names = (DATA / "series" / "series").read_text().split()
    return diff.series((n, (DATA / "series" / n).read_text()) for n in names)


def judged(exceptions: list[coverage.Exception_] | None = None) -> coverage.Coverage:
    counts = coverage.parse_gcov((DATA / "zp.gcov.json").read_text(), ["mm/zp.c", "mm/arch_only.c"])
    return coverage.judge(series(), counts, exceptions or [])


def test_parse_hunks_reads_by_counts_and_skips_the_signature() -> None:
    hunks = diff.parse_hunks((DATA / "series" / series()[1].name).read_text())
    assert [(h.file, h.old_start, h.old_len, h.new_start, h.new_len) for h in hunks] == [
        ("mm/arch_only.c", 0, 0, 1, 4),
        ("mm/zp.c", 1, 5, 1, 10),
        ("mm/zp.c", 9, 7, 14, 7),
    ]
    assert hunks[2].context == "base"
    assert all(hl.kind in " +-" for h in hunks for hl in h.lines)
    assert sum(len(h.lines) for h in hunks) == 4 + 10 + 8


def test_subject_drops_the_tag() -> None:
    assert [p.subject for p in series()] == [
        "mm: map the zero page on read faults",
        "mm: a helper for the zero page, and an arch-only file",
    ]


def test_added_lines_are_placed_at_the_tip() -> None:
    tip = (DATA / "src" / "mm" / "zp.c").read_text().splitlines()
    for p in series():
        for a in p.added:
            if a.line is not None and a.file == "mm/zp.c":
                assert tip[a.line - 1] == a.text, (p.number, a)
    first = series()[0]
    assert [a.line for a in first.added if a.text.strip() == "return -1;"] == [None]  # rewritten by patch 2
    assert [a.line for a in first.added if "zero_read(argc)" in a.text] == [24]  # 19 in patch 1, +5


def test_mover_shifts_lines_after_a_pure_insertion() -> None:
    text = "+++ b/f.c\n@@ -3,0 +4,2 @@\n+a\n+b\n"
    (hunk,) = diff.parse_hunks(text)
    assert (hunk.old_len, hunk.new_len, [hl.kind for hl in hunk.lines]) == (0, 2, ["+", "+"])


def test_parse_gcov_matches_files_by_their_tail() -> None:
    text = (DATA / "zp.gcov.json").read_text().replace('"mm/zp.c"', '"/build/linux/mm/zp.c"')
    counts = coverage.parse_gcov(text, ["mm/zp.c"])
    assert counts["mm/zp.c"][17] == coverage.Counted(0, "zero_read")
    assert counts["mm/zp.c"][14].count == 1
    assert coverage.parse_gcov(text, ["zp.c"]) != {}  # a path's tail at a "/"
    assert coverage.parse_gcov(text, ["p.c"]) == {}


def test_merge_adds_the_counts_of_a_line_several_objects_hold() -> None:
    one = {"mm/internal.h": {10: coverage.Counted(0, "f")}}
    two = {"mm/internal.h": {10: coverage.Counted(3, "f")}, "mm/shmem.c": {1: coverage.Counted(1, "g")}}
    merged = coverage.merge([one, two])
    assert merged["mm/internal.h"][10] == coverage.Counted(3, "f")
    assert merged["mm/shmem.c"][1].count == 1


def test_judge_per_patch() -> None:
    cov = judged()
    first, second = cov.tally(1), cov.tally(2)
    assert (first.executed, first.missed) == (4, 0)
    assert (second.executed, second.missed, second.no_data) == (0, 3, 4)  # arch_only.c: no gcov data
    assert cov.tally().text() == "4/7 (57.1%)"
    missed = cov.by_function(2, coverage.Kind.MISSED)
    assert {k: [x.added.line for x in v] for k, v in missed.items()} == {
        ("mm/zp.c", "helper"): [3, 5],
        ("mm/zp.c", "zero_read"): [17],
    }
    assert [x.kind for x in cov.lines if x.added.line is None] == [coverage.Kind.REPLACED]


def test_exceptions_are_reported_apart(tmp_path: Path) -> None:
    path = tmp_path / "coverage-exceptions.toml"
    path.write_text('[[exception]]\nfile = "mm/zp.c"\nfunction = "helper"\nwhy = "s390 only"\n')
    cov = judged(coverage.load_exceptions(path))
    t = cov.tally(2)
    assert (t.executed, t.missed, t.excepted) == (0, 1, 2)
    assert cov.properties()["coverage_patch_02"] == "0/1"
    assert "excepted: `helper` (mm/zp.c:3, 5): s390 only" in coverage_page.markdown(cov, "t")


@pytest.mark.parametrize(
    "text",
    ['[[exception]]\nfile = "a.c"\n', '[[exception]]\nfile = "a.c"\nwhy = "x"\nline = 3\n', "[[exception]\n"],
)
def test_bad_exceptions_are_user_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "e.toml"
    path.write_text(text)
    with pytest.raises(UserError, match=r"e\.toml"):
        coverage.load_exceptions(path)


def test_the_project_exceptions_load() -> None:
    exceptions = coverage.load_exceptions(Path(__file__).parent.parent / "testcases" / "coverage-exceptions.toml")
    assert exceptions and all(e.why for e in exceptions)


def test_properties_for_junit() -> None:
    props = judged().properties()
    assert props["coverage_executed"] == "4"
    assert props["coverage_executable"] == "7"
    assert props["coverage_percent"] == "57.1"
    assert props["coverage_mm_percent"] == "57.1"
    assert props["coverage_patch_01"] == "4/4"


def test_markdown_lists_misses_by_function() -> None:
    md = coverage_page.markdown(judged(), "series-x86_64-gcov")
    assert "| 2 | mm: a helper for the zero page, and an arch-only file | 0/3 (0.0%) | 0 | 4 |" in md
    assert "- never executed: `helper` (mm/zp.c:3, 5)" in md
    assert "  - mm/zp.c:17: `return helper(x);`" in md
    assert "goal of 90% not met" in md


def test_html_marks_every_added_line() -> None:
    page = coverage_page.page(judged(), "a <title>")
    assert "<script" not in page and "http" not in page
    assert "a &lt;title&gt;" in page
    assert page.count("class='executed'") == 4 + 1  # four lines and the legend
    assert page.count("class='missed'") == 3 + 1
    assert "return helper(x);" in page


def test_an_exception_for_lines_that_ran_is_named_stale(tmp_path: Path) -> None:
    path = tmp_path / "coverage-exceptions.toml"
    path.write_text('[[exception]]\nfile = "mm/zp.c"\nfunction = "zero_read"\nwhy = "thought unreachable"\n')
    cov = judged(coverage.load_exceptions(path))
    assert cov.tally(1).executed == 4  # executed lines count as executed whatever the list says
    md = coverage_page.markdown(cov, "t")
    assert "- executed though excepted (a stale exception): `zero_read` (mm/zp.c:14, 16, 18)" in md
    assert "- excepted: `zero_read` (mm/zp.c:17): thought unreachable" in md
