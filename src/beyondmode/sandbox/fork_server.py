"""Fork servers: one long-lived sandboxed interpreter per worker that forks a fresh child per job.

This saves the interpreter start (and, under bubblewrap, the namespace setup) of every job. Each job
still runs in its own process, forked from a server that never ran untrusted code, with its own rlimits,
audit hook, process group and job directory, which is removed afterwards. What jobs of one server
share: the server's namespaces (PID, mount, a private /tmp) and its initial memory image (the same hash
seed and `random` state). See docs/sandbox.md.
"""

from __future__ import annotations

import contextlib
import logging
import marshal
import os
import queue
import select
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from beyondmode.sandbox._harness import remove_tree
from beyondmode.sandbox.isolation import Isolation, switch_user_arguments

logger = logging.getLogger(__name__)

_ANSWER_GRACE_S = 10.0
"""How long past a job's own timeout the parent waits for its answer before it kills the server."""


class ForkServer:
    """One server process (`python -c <harness> serve`) and its work directory."""

    def __init__(self, isolation: Isolation, harness: str, tmp_root: str | None, disk_bytes: int) -> None:
        self.workdir = tempfile.mkdtemp(prefix="beyondmode-server-", dir=tmp_root)
        self.cpu_s = 0.0
        """The server's own CPU seconds so far, as it last reported them (its jobs not included)."""
        if isolation.user is not None:
            os.chown(self.workdir, isolation.user, isolation.group or -1)
        self._errors = tempfile.TemporaryFile(dir=tmp_root)  # noqa: SIM115 (closed in close())
        self.process = subprocess.Popen(
            isolation.command(harness, self.workdir, ("serve", isolation.mode.value), disk_bytes),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errors, cwd=self.workdir, bufsize=0,
            env=isolation.environment(self.workdir), start_new_session=True, **switch_user_arguments(isolation),
        )  # fmt: skip
        assert self.process.stdin is not None
        os.set_blocking(self.process.stdin.fileno(), False)
        self._received = bytearray()
        """Answer bytes read ahead (while a job frame was being written)."""

    def request(self, jobs: Sequence[dict[str, Any]], timeout_s: float) -> list[dict[str, Any] | None]:
        """Run `jobs` in order and read their answers. Each job is its own frame, and the next one is
        queued in the pipe while the server runs the current one (no round trip between jobs), so the
        server never holds a later job, nor its nonce, in the memory its job's child inherits. From the
        first job the server does not answer within `timeout_s` + a grace period (it died or hung: it is
        then killed), every answer is None, and the server is dead."""
        assert self.process.stdin is not None and self.process.stdout is not None
        answers: list[dict[str, Any] | None] = [None] * len(jobs)
        frames = [_framed(marshal.dumps(job)) for job in jobs]
        try:
            if frames:
                self._send(frames[0], time.monotonic() + timeout_s + _ANSWER_GRACE_S)
            for index in range(len(jobs)):
                deadline = time.monotonic() + timeout_s + _ANSWER_GRACE_S
                if index + 1 < len(frames):
                    self._send(frames[index + 1], deadline)
                header = self._read(4, deadline)
                answer = marshal.loads(self._read(int.from_bytes(header, "little"), deadline))
                self.cpu_s = answer.get("server_cpu_s", self.cpu_s)
                answers[index] = answer
        except (OSError, EOFError, ValueError, TimeoutError) as error:
            logger.warning("sandbox fork server failed: %s; %s", error, self._error_tail())
            self.kill()
        return answers

    def _send(self, data: bytes, deadline: float) -> None:
        """Write one frame (the descriptor is non-blocking), reading the server's answers into a buffer
        meanwhile, so that neither side can block the other with a full pipe; TimeoutError at the
        deadline."""
        assert self.process.stdin is not None and self.process.stdout is not None
        out, answers = self.process.stdin.fileno(), self.process.stdout.fileno()
        view = memoryview(data)
        while view:
            left = deadline - time.monotonic()
            readable, writable = _ready(answers, out, left)
            if not readable and not writable:
                raise TimeoutError("the fork server did not read its jobs in time")
            if readable:
                self._fill(answers)
            if writable:
                with contextlib.suppress(BlockingIOError):
                    view = view[os.write(out, view) :]

    def _fill(self, fd: int) -> None:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            raise EOFError("the fork server closed its output")
        self._received += chunk

    def _read(self, size: int, deadline: float) -> bytes:
        """Exactly `size` bytes of the server's answers; EOFError when it closed, TimeoutError at the
        deadline (a poll on the descriptor: no watchdog thread per job)."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while len(self._received) < size:
            left = deadline - time.monotonic()
            if left <= 0 or not _ready(fd, None, left)[0]:
                raise TimeoutError("the fork server did not answer in time")
            self._fill(fd)
        data = bytes(self._received[:size])
        del self._received[:size]
        return data

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def close(self) -> None:
        """Stop the server (end of input, then SIGKILL to its group) and remove its work directory."""
        if self.process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=2.0)
        self.kill()
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._errors.close()
        if not remove_tree(self.workdir):
            logger.error("sandbox could not remove the fork server's directory %s", self.workdir)

    def _error_tail(self) -> str:
        self._errors.seek(0)
        return self._errors.read()[-500:].decode("utf-8", "replace")


def _ready(read_fd: int, write_fd: int | None, timeout_s: float) -> tuple[bool, bool]:
    """(readable, writable) within `timeout_s`. `poll`, not `select`: a training process can hold
    descriptors numbered past select's limit of 1024."""
    poller = select.poll()
    poller.register(read_fd, select.POLLIN)
    if write_fd is not None:
        poller.register(write_fd, select.POLLOUT)
    events = dict(poller.poll(max(timeout_s, 0.0) * 1000))
    readable = bool(events.get(read_fd, 0) & (select.POLLIN | select.POLLHUP | select.POLLERR))
    writable = write_fd is not None and bool(events.get(write_fd, 0) & (select.POLLOUT | select.POLLERR))
    return readable, writable


def _framed(data: bytes) -> bytes:
    """A frame: 4-byte little-endian length, then the data."""
    return len(data).to_bytes(4, "little") + data


class ForkServerPool:
    """Servers handed out one per running job (at most one per concurrent caller), created on demand.

    Every server is started from the pool's own long-lived thread: bubblewrap's `--die-with-parent`
    (PR_SET_PDEATHSIG) kills a child when the THREAD that started it exits, so a server started from a
    caller's short-lived thread (`Sandbox.run_many`'s pool, a reward server's request thread) died with
    it, and the next job on it failed and started another.
    """

    def __init__(self, isolation: Isolation, harness: str, tmp_root: str | None, disk_bytes: int) -> None:
        self._isolation = isolation
        self._disk_bytes = disk_bytes
        self._harness = harness
        self._tmp_root = tmp_root
        self._idle: queue.SimpleQueue[ForkServer] = queue.SimpleQueue()
        self._all: list[ForkServer] = []
        self._lock = threading.Lock()
        self._starter: ThreadPoolExecutor | None = None
        self.closed_cpu_s = 0.0
        self.started = 0
        """How many servers this pool has started (a dead one is replaced by a new one)."""

    def _start(self) -> ForkServer:
        with self._lock:
            if self._starter is None:
                self._starter = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="beyondmode-fork-servers"
                )
            starter = self._starter
        return starter.submit(
            ForkServer, self._isolation, self._harness, self._tmp_root, self._disk_bytes
        ).result()

    def request(self, jobs: Sequence[dict[str, Any]], timeout_s: float) -> list[dict[str, Any] | None]:
        """Run a batch of jobs on one idle server (started if there is none), in order. A None answer
        means the server died or hung at that job (it is then closed); the jobs after it did not run."""
        try:
            server = self._idle.get_nowait()
        except queue.Empty:
            server = self._start()
            with self._lock:
                self._all.append(server)
                self.started += 1
        answers = server.request(jobs, timeout_s)
        if answers and answers[-1] is None:
            server.close()
            with self._lock:
                self._all.remove(server)
                self.closed_cpu_s += server.cpu_s
        else:
            self._idle.put(server)
        return answers

    @property
    def cpu_s(self) -> float:
        """CPU seconds the servers themselves used (forking, waiting, cleaning up), as they reported."""
        with self._lock:
            return self.closed_cpu_s + sum(server.cpu_s for server in self._all)

    @property
    def running(self) -> int:
        """How many servers are alive."""
        return len(self._all)

    def close(self) -> None:
        with self._lock:
            servers, self._all = self._all, []
            starter, self._starter = self._starter, None
            self.closed_cpu_s += sum(server.cpu_s for server in servers)
        for server in servers:
            server.close()
        self._idle = queue.SimpleQueue()
        if starter is not None:
            starter.shutdown(wait=False)
