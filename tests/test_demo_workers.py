"""The demo's worker processes die with the demo: a demo killed on its own leaves no orphan behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")

PARENT = """
import sys, time
from beyondmode.demo.pipeline import Job, run_jobs
jobs = [Job("a", time.sleep, (120,)), Job("b", time.sleep, (120,))]
run_jobs(jobs, workers=2, threads=1, report=lambda name: print(name, flush=True))
"""


def _children(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_workers_die_when_the_demo_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        started = {parent.stdout.readline().strip() for _ in range(2)}
        assert started == {"a", "b"}
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while time.monotonic() < deadline:  # the two pool workers, not the resource tracker
            workers = [
                p for p in _children(parent.pid) if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text()
            ]
            if len(workers) == 2:
                break
            time.sleep(0.2)
        assert len(workers) == 2, workers
        os.kill(parent.pid, signal.SIGKILL)  # no cleanup can run in the parent
        parent.wait(timeout=10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
            time.sleep(0.2)
        assert not any(_alive(pid) for pid in workers), "a worker outlived the killed demo"
    finally:
        if parent.poll() is None:
            parent.kill()
