"""What a suite records about where its results came from: one frozen value, made as a cell goes
through its stages and written once as the suite's JUnit properties."""

from __future__ import annotations

from dataclasses import dataclass, field

LOG_PROPERTY = "log"  # property naming the suite's full console log (an artifact)


@dataclass(frozen=True)
class BuildFacts:
    """The kernel a suite booted: the commit built and what the build said."""

    commit: str
    series_hash: str  # "" for base
    kernel_release: str = ""
    warnings: int | None = None  # None: the build never ran
    seconds: float | None = None
    log: str = ""
    series_id: str = ""  # sha256 over the patches' patch-ids: the same for a version that changed only messages
    key: str = ""  # the plan's build key
    artifact: str = ""  # booted from an artifact (zpfarm test): its file name, KEY.tar.zst
    artifact_sha256: str = ""
    base_commit: str = ""  # the base the series applies to
    series: str = ""  # its name: "v3" of "[PATCH v3 01/13]"
    patch_ids: tuple[str, ...] = ()  # each patch's `git patch-id --stable`


@dataclass(frozen=True)
class SuiteFacts:
    arch: str
    kconfig: str
    kernel: str  # base or series
    base: str  # the point release built on (v7.3.4)
    base_line: str = ""  # the stable line the matrix named (v7.3), when the base floats
    tarball_sha256: str = ""
    provenance: tuple[tuple[str, str], ...] = ()  # zpfarm's version, tools' versions, the matrix's sha256
    build: BuildFacts | None = None
    accel: str = ""  # as resolved for the boot
    console_log: str = ""
    measured: tuple[tuple[str, str], ...] = field(default=())  # what the boot measured (coverage, ...)
    # what the reports read of a build: config fragments and .config sha256, vmlinux, the trees
    reported: tuple[tuple[str, str], ...] = ()
    runtime: str = ""
    reproducer: str = ""

    def properties(self) -> dict[str, str]:
        """The JUnit properties, in a stable order; a fact not known (empty) is left out."""
        optional = {"base_line": self.base_line, "tarball_sha256": self.tarball_sha256}
        props = {"arch": self.arch, "kconfig": self.kconfig, "kernel": self.kernel, "base": self.base}
        props |= {k: v for k, v in optional.items() if v} | dict(self.provenance)
        if self.build is not None:
            b = self.build
            props |= {"commit": b.commit, "series_hash": b.series_hash}
            origin = {"series_id": b.series_id, "base_commit": b.base_commit, "series": b.series}
            origin |= {"patch_ids": " ".join(b.patch_ids), "build_key": b.key, "artifact": b.artifact}
            props |= {k: v for k, v in (origin | {"artifact_sha256": b.artifact_sha256}).items() if v}
            if b.warnings is not None and b.seconds is not None:
                built = {"kernel_release": b.kernel_release, "build_warnings": str(b.warnings)}
                props |= built | {"build_seconds": f"{b.seconds:.1f}", "build_log": b.log}
        props |= dict(self.reported)
        booted = {"accel": self.accel, LOG_PROPERTY: self.console_log}
        props |= {k: v for k, v in booted.items() if v} | dict(self.measured)
        return props | {k: v for k, v in {"runtime": self.runtime, "reproducer": self.reproducer}.items() if v}
