"""What a run says about the series: regressions against base, failures base has too, what never ran,
and the first bad patch build-each's JUnit or bisect's log names."""

from __future__ import annotations

import runs

from farm.model.results import Status
from farm.report import findings


def test_a_run_sorts_into_regressions_failures_base_has_too_and_untested() -> None:
    suites = runs.every_outcome()
    base, series = suites[0], suites[1]
    shared = series.cases[3]  # the console crash: make base crash there too
    suites[0] = type(base)(base.name, (*base.cases, shared), base.properties, "", runs.WHEN, 1.0)
    found = findings.find(suites)
    assert [(p.suite, p.case.name) for p in found.regressions] == [
        ("series-x86_64-thp-on/default", "zeropage.read_hole_maps_zero_pfn[tmpfs,shared]"),
        ("series-arm64-thp-on/default", "build"),
    ]
    assert [p.case.name for p in found.also_on_base] == ["zeropage.console"]
    assert [p.case.status for p in found.untested] == [Status.INFRA, Status.INPUT]
    assert found.regressions[0].on_base is Status.PASS and found.regressions[1].on_base is None
    assert not found.clean and findings.find(runs.clean()).clean


def test_the_bisect_log_names_the_first_bad_commit_by_its_subject() -> None:
    log = (
        "running  'zpfarm' 'bisect-step'\n"
        "0123456789abcdef0123456789abcdef01234567 is the first bad commit\n"
        "commit 0123456789abcdef0123456789abcdef01234567\n"
        "Author: Seed maintainers <m@example.org>\nDate:   Wed Nov 25 21:00:02 2026 +0000\n\n"
        "    mm/gup: populate shared shmem mappings with real pages\n\n    Body.\n\n mm/gup.c | 2 +-\n"
    )
    blame = findings.from_bisect_log(log)
    assert blame is not None and blame.tool == "bisect"
    patch = blame.patch(runs.series_info())
    assert patch is not None and patch.file.startswith("0004-")
    assert findings.from_bisect_log("bisect found nothing") is None
