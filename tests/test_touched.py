"""What a patch touches: objects (headers through their includers), tested options, the bias."""

from __future__ import annotations

import subprocess
from pathlib import Path

from farm.kernel import sweepconf, touched


def _repo(path: Path, files: dict[str, str]) -> str:
    path.mkdir()
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True, text=True).stdout

    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    return git("rev-parse", "HEAD").strip()


def test_a_header_is_compiled_through_the_objects_that_include_it(tmp_path: Path) -> None:
    commit = _repo(
        tmp_path / "linux",
        {
            "mm/internal.h": "",
            "mm/a.c": '#include "internal.h"\n',
            "mm/b.c": '#include "internal.h"\n',
            "mm/c.c": '#include "internal.h"\n',
            "mm/d.c": "#include <linux/mm.h>\n",
            "mm/sub/e.c": '#include "../internal.h"\n',
            "include/linux/shmem_fs.h": "",
            "fs/x.c": "#include <linux/shmem_fs.h>\n",
        },
    )
    tree = tmp_path / "linux"
    files = ["mm/c.c", "mm/internal.h", "include/linux/shmem_fs.h", "tools/t.c", "Documentation/x.rst"]
    # c.o is the patch's own; a.o and b.o include the header (one allowed); fs/ is not a series directory
    assert touched.objects(tree, commit, files, ["mm"], 1) == ["mm/c.o", "mm/a.o"]
    assert touched.objects(tree, commit, files, ["mm"], 5) == ["mm/c.o", "mm/a.o", "mm/b.o"]
    assert touched.objects(tree, commit, ["include/linux/shmem_fs.h"], ["fs"], 5) == ["fs/x.o"]


def test_the_options_the_sources_test() -> None:
    text = "#ifdef CONFIG_KSM\n#if defined(CONFIG_NUMA) && CONFIG_PGTABLE_LEVELS > 3\nif (IS_ENABLED(CONFIG_MEMCG))\n"
    assert touched.tested_options([text]) == ["KSM", "MEMCG", "NUMA"]


def test_the_bias_is_the_same_for_the_same_seed() -> None:
    options = [f"OPT{i}" for i in range(40)]
    assert touched.bias(options, 7) == touched.bias(options, 7)
    assert touched.bias(options, 7) != touched.bias(options, 8)
    assert {line.endswith("=y") for line in touched.bias(options, 7)} == {True, False}
    assert touched.bias(["ARCH_HAS_PKEYS", "HAVE_GUP_FAST", "64BIT"], 7) == []  # the arch's, not a user's


def test_objects_of_other_arches_are_left_out() -> None:
    objs = ["mm/memory.o", "arch/s390/mm/gmap_helpers.o", "arch/x86/mm/fault.o"]
    assert touched.for_arch(objs, "x86") == ["mm/memory.o", "arch/x86/mm/fault.o"]


def test_an_object_the_config_leaves_out_is_not_compiled(tmp_path: Path) -> None:
    (tmp_path / "mm").mkdir()
    (tmp_path / "mm/Makefile").write_text("obj-y := memory.o \\\n\tshmem.o\nobj-$(CONFIG_KSM) += ksm.o\n")
    assert sweepconf.in_config(tmp_path, {}, "mm/shmem.o")
    assert not sweepconf.in_config(tmp_path, {}, "mm/ksm.o")
    assert sweepconf.in_config(tmp_path, {"KSM": "m"}, "mm/ksm.o")
    assert sweepconf.in_config(tmp_path, {}, "mm/composite-part.o")  # not named: make decides
