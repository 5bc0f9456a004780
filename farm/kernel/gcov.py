"""gcov on a coverage cell's counters: each .gcda a guest copied out, with its .gcno from the build.

The guest copies /sys/kernel/debug/gcov/<build directory>/<object>.gcda; the
.gcno gcc wrote beside each object is found in the build directory by the
longest tail of that path, so a moved cache still matches. gcov is the one of
the gcc that built the kernel (the cross one for a foreign arch); it reads the
pair in a scratch directory and writes `gcov --json-format` there.
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from farm.host import proc
from farm.model.arches import Arch
from farm.model.errors import InfraError, UserError

GCOV_TIMEOUT_S = 300


def binary(arch: Arch) -> str:
    """gcov of the compiler that builds arch's kernels."""
    return "gcov" if arch.native else f"{arch.cross_compile}gcov"


def pairs(gcda_dir: Path, build_dir: Path) -> list[tuple[Path, Path]]:
    """Each .gcda under gcda_dir with the build's .gcno of the same object."""
    found = []
    for gcda in sorted(gcda_dir.rglob("*.gcda")):
        gcno = _gcno(gcda.relative_to(gcda_dir).with_suffix(".gcno").parts, build_dir)
        if gcno is not None:
            found.append((gcda, gcno))
    if not found:
        raise UserError(f"no .gcda under {gcda_dir} matches a .gcno of the build in {build_dir}")
    return found


def _gcno(parts: tuple[str, ...], build_dir: Path) -> Path | None:
    for i in range(len(parts)):
        candidate = build_dir.joinpath(*parts[i:])
        if candidate.is_file():
            return candidate
    return None


def json_docs(gcov: str, found: list[tuple[Path, Path]], log: Path) -> Iterator[str]:
    """`gcov --json-format` of each pair, as text (InfraError if gcov fails)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="zpfarm-gcov-") as tmp:
        for i, (gcda, gcno) in enumerate(found):
            work = Path(tmp) / str(i)
            work.mkdir()
            shutil.copyfile(gcda, work / gcda.name)
            shutil.copyfile(gcno, work / gcda.with_suffix(".gcno").name)
            done = proc.run(
                [gcov, "--json-format", "-o", str(work), str(work / gcda.name)],
                cwd=work,
                log=log.with_name(f"{log.stem}-{i}{log.suffix}"),
                timeout=GCOV_TIMEOUT_S,
            )
            made = sorted(work.glob("*.gcov.json.gz"))
            if not done.ok or not made:
                raise InfraError(f"{gcov} failed on {gcda} ({gcno}): {done.tail(2)}")
            for doc in made:
                yield gzip.decompress(doc.read_bytes()).decode("utf-8", errors="replace")
