"""The matrix's [guest] table: memory, vCPUs and the timeouts of every boot."""

from __future__ import annotations

import re
from dataclasses import dataclass

from farm.model.errors import UserError
from farm.model.table import Table

_MEMORY = re.compile(r"[1-9][0-9]{0,6}[KMGT]?")  # what qemu -m (and vng --memory) takes


@dataclass(frozen=True)
class GuestSettings:
    """[guest]: the size of every guest and how long it may take."""

    memory: str = "2G"
    cpus: int = 2
    boot_timeout: float = 300.0  # from start to the runner's first word (TCG)
    test_timeout: float = 240.0  # per test program (TCG)

    @property
    def memory_bytes(self) -> int:
        """memory ("2G", "512M", "1048576K", bytes) in bytes."""
        scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
        unit = self.memory[-1:].upper()
        return int(self.memory[:-1]) * scale[unit] if unit in scale else int(self.memory)


def parse(t: Table) -> GuestSettings:
    """[guest] -> GuestSettings; UserError names the key."""
    t.check_keys(["memory", "cpus", "boot_timeout", "test_timeout"])
    d = GuestSettings()
    memory = t.get("memory", str, d.memory)
    if not _MEMORY.fullmatch(memory):
        raise UserError(f'{t.where}: \'memory\' must be a size like "2G" or "512M", not {memory!r}')
    return GuestSettings(
        memory=memory,
        cpus=t.positive("cpus", int, d.cpus),
        boot_timeout=t.positive("boot_timeout", float, d.boot_timeout),
        test_timeout=t.positive("test_timeout", float, d.test_timeout),
    )
