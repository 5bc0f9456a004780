"""Two versions of a series, patch by patch: paired by patch-id, then subject; build-each results beside them."""

from __future__ import annotations

from farm.model.results import Status
from farm.model.seriesinfo import PatchInfo, SeriesInfo
from farm.report import versions
from farm.report.compare import Case


def _info(revision: int, *patches: tuple[str, str]) -> SeriesInfo:
    return SeriesInfo(
        "s",
        revision,
        None,
        None,
        None,
        None,
        (),
        tuple(PatchInfo(f"{n:04d}-p.patch", subject, None, pid * 40) for n, (subject, pid) in enumerate(patches, 1)),
    )


V1 = _info(1, ("mm: one", "a"), ("mm: two", "b"), ("mm: three", "c"))
V2 = _info(2, ("mm: one", "a"), ("mm: two", "d"), ("mm: four", "e"))


def test_patches_pair_by_patch_id_then_subject_and_the_rest_are_new_or_dropped() -> None:
    pairs = versions.pair(V1, V2)
    assert [(p.kind, p.before, p.after, p.subject) for p in pairs] == [
        (versions.Kind.SAME, 1, 1, "mm: one"),
        (versions.Kind.CHANGED, 2, 2, "mm: two"),
        (versions.Kind.NEW, None, 3, "mm: four"),
        (versions.Kind.DROPPED, 3, None, "mm: three"),
    ]


def test_a_reordered_patch_with_the_same_patch_id_is_the_same_patch() -> None:
    swapped = _info(2, ("mm: two", "b"), ("mm: one", "a"), ("mm: three", "c"))
    assert [(p.kind, p.before, p.after) for p in versions.pair(V1, swapped)] == [
        (versions.Kind.SAME, 2, 1),
        (versions.Kind.SAME, 1, 2),
        (versions.Kind.SAME, 3, 3),
    ]


def test_build_each_results_are_paired_and_a_patch_that_broke_is_a_regression() -> None:
    each = [
        Case("build-each/series-x86_64-on", "base v6.12", Status.PASS),
        Case("build-each/series-x86_64-on", "0001 mm: one", Status.PASS),
        Case("build-each/series-x86_64-on", "0002 mm: two", Status.PASS),
        Case("build-each/series-arm64-on", "0002 mm: two", Status.FAIL),
    ]
    later = [Case("build-each/series-x86_64-on", "0001 mm: one", Status.PASS)]
    later += [Case("build-each/series-x86_64-on", "0002 mm: two", Status.BUILD)]
    first, second = versions.per_patch(each), versions.per_patch(later)
    assert first == {1: Status.PASS, 2: Status.FAIL}  # the worst over the cells
    pairs = versions.pair(V1, V2)
    assert versions.regressed(pairs, (first, second)) == []  # two failed before too
    assert versions.regressed(pairs, ({1: Status.PASS, 2: Status.PASS}, second)) == ["mm: two"]
    text = versions.render(V1, V2, pairs, (first, second), ["1:  aaa = 1:  bbb mm: one"])
    assert "  2 !   2  mm: two    fail -> build" in text
    assert "same: 1, changed: 1, new: 1, dropped: 1" in text and "git range-diff:" in text
