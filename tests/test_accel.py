"""The KVM probe: once per host, whatever number of guests asks at once; its answer written whole."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from farm.host.cache import Cache
from farm.model import arches
from farm.model.arches import Accel
from farm.vm import accel


@pytest.fixture
def kvm_usable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accel.os, "access", lambda path, mode: True)


def test_guests_booting_at_once_share_one_probe(tmp_path: Path, kvm_usable: None) -> None:
    cache, probes, lock = Cache(tmp_path / "cache"), [], threading.Lock()

    def slow_probe(image: Path) -> bool:
        with lock:
            probes.append(image)
        time.sleep(0.5)
        return False

    def boot(n: int) -> Accel:
        return accel.resolve(Accel.AUTO, arches.get("x86_64"), tmp_path / f"bzImage{n}", cache, print, slow_probe)

    with ThreadPoolExecutor(4) as pool:
        chosen = list(pool.map(boot, range(4)))
    assert len(probes) == 1 and chosen == [Accel.TCG] * 4
    assert json.loads(cache.host_facts.read_text()) == {"key": accel._host_key(), "kvm": False}
    assert [p.name for p in cache.root.iterdir() if p.name.startswith(".host.json")] == []  # no temp file left


def test_a_known_answer_is_not_probed_again_and_a_choice_is_never_probed(tmp_path: Path, kvm_usable: None) -> None:
    cache = Cache(tmp_path / "cache")
    cache.root.mkdir()
    cache.host_facts.write_text(json.dumps({"key": accel._host_key(), "kvm": True}))

    def no_probe(image: Path) -> bool:
        raise AssertionError("probed")

    x86 = arches.get("x86_64")
    assert accel.resolve(Accel.AUTO, x86, tmp_path / "bzImage", cache, print, no_probe) is Accel.KVM
    assert accel.resolve(Accel.TCG, x86, tmp_path / "bzImage", cache, print, no_probe) is Accel.TCG
    assert accel.resolve(Accel.AUTO, arches.get("arm64"), tmp_path / "Image", cache, print, no_probe) is Accel.TCG
