"""Fragment checking after olddefconfig (the parsing part; the real run is in test_e2e)."""

from __future__ import annotations

from pathlib import Path

import pytest

from farm.kernel import kconfig
from farm.model.errors import UserError


def test_parse_set_and_unset() -> None:
    text = 'CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=64\nCONFIG_D="x y"\n# comment\n'
    assert kconfig.parse(text) == {"CONFIG_A": "y", "CONFIG_B": "n", "CONFIG_C": "64", "CONFIG_D": '"x y"'}


def test_dropped_names_option_fragment_and_value(tmp_path: Path) -> None:
    base = tmp_path / "base.config"
    base.write_text("CONFIG_SHMEM=y\nCONFIG_TRANSPARENT_HUGEPAGE=y\n")
    variant = tmp_path / "thp-off.config"
    variant.write_text("# CONFIG_TRANSPARENT_HUGEPAGE is not set\nCONFIG_NOPE=y\n")
    final = {"CONFIG_SHMEM": "y"}
    lost = kconfig.dropped([base, variant], final)
    assert [(d.option, d.wanted, d.got, d.fragment.name) for d in lost] == [("CONFIG_NOPE", "y", "n", "thp-off.config")]


def test_check_raises_one_line(tmp_path: Path) -> None:
    frag = tmp_path / "f.config"
    frag.write_text("CONFIG_A=y\nCONFIG_B=y\n")
    config = tmp_path / ".config"
    config.write_text("# CONFIG_A is not set\n")
    with pytest.raises(UserError, match=r"CONFIG_A=y from f.config did not survive olddefconfig \(got n\).*1 more"):
        kconfig.check([frag], config)
