"""KTAP names as KCIDB paths: every name in tests/data maps to a valid, distinct path, whatever the order."""

from __future__ import annotations

import re
from pathlib import Path

from farm.report import kcidb_path

DATA = Path(__file__).resolve().parent / "data"
_RESULT = re.compile(r"^\s*(?:not )?ok \d+(?: - | )?([^#]*?)\s*(?:#.*)?$")


def ktap_names() -> list[str]:
    names = set()
    for path in DATA.rglob("*"):
        if path.suffix not in (".ktap", ".log", ".raw") or not path.is_file():
            continue
        for line in path.read_text(errors="replace").splitlines():
            if (m := _RESULT.match(line)) and m[1]:
                names.add(m[1])
    return sorted(names)


def test_every_name_in_the_corpus_maps_to_a_valid_distinct_path() -> None:
    names = ktap_names()
    assert len(names) > 500
    invalid_raw = [n for n in names if not kcidb_path.PATTERN.match(n)]
    assert len(invalid_raw) > len(names) // 2  # most are not paths as they are
    paths = kcidb_path.paths(names)
    assert all(kcidb_path.PATTERN.match(p) for p in paths.values())
    assert len(set(paths.values())) == len(names)
    assert kcidb_path.paths(reversed(names)) == paths


def test_the_farm_s_names_map_under_their_test_suites() -> None:
    assert kcidb_path.path("selftests-mm-cow.Basic COW after fork() with base page") == (
        "kselftest.mm.cow.Basic_COW_after_fork_with_base_page"
    )
    assert (
        kcidb_path.path("coherence.read_then_write[memfd,private]") == "zpfarm.coherence.read_then_write_memfd_private"
    )
    assert kcidb_path.path("boot") == "boot"
    assert kcidb_path.path("selftests-memfd-memfd_test.x") == "kselftest.memfd.memfd_test.x"


def test_names_that_slug_alike_both_get_a_suffix_of_their_own() -> None:
    paths = kcidb_path.paths(["t.a b", "t.a_b", "t.c"])
    assert paths["t.c"] == "zpfarm.t.c"
    assert paths["t.a b"] != paths["t.a_b"]
    assert paths["t.a b"].startswith("zpfarm.t.a_b-") and paths["t.a_b"].startswith("zpfarm.t.a_b-")
    assert kcidb_path.paths(["t.a b", "t.c"])["t.a b"] == "zpfarm.t.a_b"
