"""Resource limits for one sandboxed run."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """What one candidate may use. Soft and hard rlimits are both set to these values, except the CPU's
    hard limit: `cpu_s` + 1 (SIGXCPU at `cpu_s` ends the job, verdict `timeout`; SIGKILL one second later
    for a program that ignores SIGXCPU).

    Fields:
        timeout_s: wall-clock seconds before the whole process group is killed.
        cpu_s: CPU seconds (RLIMIT_CPU); defaults to the wall timeout rounded up.
        memory_mb: address space (RLIMIT_AS) of the interpreter, in MiB.
        file_size_mb: largest file the program may write (RLIMIT_FSIZE), stdout and stderr included.
        disk_mb: all the files of one job together: under bwrap the size of its tmpfs work directory (and
            of its /tmp); in plain mode the job is killed (verdict `crashed`) when its work directory
            grows past it.
        max_processes: RLIMIT_NPROC (counts every process of the sandbox's user; not enforced for root).
        max_open_files: RLIMIT_NOFILE.
        output_bytes: how much of stdout and of stderr is kept in the result (the rest is discarded).
        probes: at most this many probe calls after the tests (the tested functions on inputs near the
            tests' own; their outcomes are part of `RunResult.fingerprint`, never of the verdict).
        probe_s: wall-clock budget of all the probe calls of one job (their CPU budget is 0.05 s + 4x
            the tests' CPU time, at most this).

    >>> Limits(timeout_s=2.5).cpu_seconds
    3
    """

    timeout_s: float = 5.0
    cpu_s: int | None = None
    memory_mb: int = 1024
    file_size_mb: int = 16
    disk_mb: int = 64
    max_processes: int = 64
    max_open_files: int = 64
    output_bytes: int = 8192
    probes: int = 24
    probe_s: float = 0.5

    def __post_init__(self) -> None:
        for name in ("timeout_s", "memory_mb", "file_size_mb", "disk_mb", "max_processes", "max_open_files"):
            if getattr(self, name) <= 0:
                raise ValueError(f"Limits.{name} must be positive, got {getattr(self, name)}")
        if self.cpu_s is not None and self.cpu_s <= 0:
            raise ValueError(f"Limits.cpu_s must be positive, got {self.cpu_s}")
        for name in ("output_bytes", "probes", "probe_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"Limits.{name} must be >= 0, got {getattr(self, name)}")

    @property
    def cpu_seconds(self) -> int:
        return self.cpu_s if self.cpu_s is not None else max(1, math.ceil(self.timeout_s))

    def as_payload(self) -> dict[str, int]:
        """The limits in the units the harness applies (bytes, seconds)."""
        return {
            "memory_bytes": self.memory_mb << 20,
            "cpu_s": self.cpu_seconds,
            "file_size_bytes": min(self.file_size_mb, self.disk_mb) << 20,
            "max_processes": self.max_processes,
            "max_open_files": self.max_open_files,
        }
