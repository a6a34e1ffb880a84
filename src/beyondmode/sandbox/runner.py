"""Run untrusted programs against their tests, each in a fresh sandboxed interpreter, in parallel.

>>> sandbox = Sandbox(Limits(timeout_s=5))
>>> sandbox.run("def add(a, b):\\n    return a + b", "assert add(1, 2) == 3").verdict
<Verdict.PASSED: 'passed'>
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import marshal
import os
import secrets
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import IO, Any

from beyondmode.sandbox._harness import disk_usage_exceeds, remove_tree
from beyondmode.sandbox.fork_server import ForkServerPool
from beyondmode.sandbox.isolation import Isolation, IsolationMode, resolve_isolation, switch_user_arguments
from beyondmode.sandbox.limits import Limits

logger = logging.getLogger(__name__)

_STATUS_BYTES = 4096
_SERVER_RETRIES = 1
EXPOSE_PRAGMA = "# sandbox-expose:"
"""A line of the tests that lets the named program functions shadow builtins in the tests' namespace."""


def expose_line(names: Sequence[str]) -> str:
    """The tests line that exposes `names` (program names hiding a builtin, e.g. a function `sum`).

    >>> expose_line(["sum"])
    '# sandbox-expose: sum'
    """
    return f"{EXPOSE_PRAGMA} {', '.join(names)}"


def shadows_builtin(name: str) -> bool:
    """True when `name` is a builtin name (the harness hides such program names from the tests)."""
    return hasattr(builtins, name)


class Verdict(StrEnum):
    """`passed`: every test ran and passed. `failed`: a test raised. `error`: the program does not
    compile or raised while being defined. `timeout`: killed at the wall-clock limit or at its CPU-time
    limit (SIGXCPU). `crashed`: exited without a verdict (killed by another resource limit or a signal,
    os._exit, a broken harness)."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    TIMEOUT = "timeout"
    CRASHED = "crashed"


@dataclass(frozen=True, slots=True)
class RunResult:
    """The outcome of one program against one test program. `detail` is diagnostic only."""

    verdict: Verdict
    detail: str
    returncode: int | None
    duration_s: float
    stdout: str
    stderr: str
    fingerprint: str | None = None
    """How the program behaved: `passed|failed:<digest of every call the tests made to its functions and
    what each returned or raised>:<digest of the probe calls, or "incomplete">`, produced by the harness
    (exact types, sets sorted). None when the program never finished the tests (error, timeout, crash)."""
    infrastructure_failure: bool = False
    """True when the sandbox, not the program, failed (a fork server died twice): never cache it."""
    cpu_s: float | None = None
    """CPU seconds of the job's process (fork servers report it; None for a fresh interpreter)."""

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASSED


@cache
def harness_source() -> str:
    """The harness program that the sandboxed interpreter runs with `-c`."""
    return resources.files("beyondmode.sandbox").joinpath("_harness.py").read_text(encoding="utf-8")


class Sandbox:
    """Runs (program, tests) pairs, each in a fresh subprocess; `workers` of them at a time.

    `mode` is the isolation actually in use (`IsolationMode.BWRAP` or `PLAIN`); `requested_mode` is
    "auto" (bwrap when it runs here), "bwrap" (raise if it cannot) or "plain". `hash_seed` fixes
    PYTHONHASHSEED so that a program's verdict does not depend on set or dict ordering of strings
    (None: random, and the interpreter runs with -I). `fork_server`: each worker keeps one sandboxed
    interpreter that forks a fresh child per job instead of starting an interpreter per job (about 3x
    the throughput; jobs of one worker then share its namespaces; see docs/sandbox.md); call `close()`
    or use `with` to stop the servers. Results do not depend on `workers` or on order.
    """

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        requested_mode: str = "auto",
        python: str | None = None,
        workers: int = 2,
        hash_seed: int | None = 0,
        tmp_root: str | None = None,
        fork_server: bool = False,
        allow_root: bool | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.limits = limits or Limits()
        self.workers = workers
        self.tmp_root = tmp_root
        self.fork_server = fork_server
        self.isolation: Isolation = resolve_isolation(requested_mode, python, hash_seed, allow_root)
        self._servers: ForkServerPool | None = None
        self._start_servers()

    def _start_servers(self) -> None:
        if self.fork_server:
            self._servers = ForkServerPool(
                self.isolation, harness_source(), self.tmp_root, self.limits.disk_mb << 20
            )
            weakref.finalize(self, self._servers.close)

    def close(self) -> None:
        """Stop the fork servers, if any (they are also stopped when the sandbox is garbage collected)."""
        if self._servers is not None:
            self._servers.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, object]:
        state = {
            name: getattr(self, name)
            for name in ("limits", "workers", "tmp_root", "fork_server", "isolation")
        }
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._servers = None
        self._start_servers()

    @property
    def mode(self) -> IsolationMode:
        return self.isolation.mode

    def run_many(self, jobs: Sequence[tuple[str, str]]) -> list[RunResult]:
        """Run every (program, tests) pair; results in input order. With fork servers, jobs go to the
        servers in batches: the next job waits in the pipe while the server runs one (no round trip)."""
        if self._servers is not None:
            batches = _batches(len(jobs), self.workers)
            servers = self._servers
            if len(batches) <= 1:
                return [result for batch in batches for result in self._run_on_server(servers, jobs, batch)]
            with ThreadPoolExecutor(max_workers=min(self.workers, len(batches))) as pool:
                done = pool.map(lambda batch: self._run_on_server(servers, jobs, batch), batches)
                return [result for results in done for result in results]
        if len(jobs) <= 1 or self.workers == 1:
            return [self.run(program, tests) for program, tests in jobs]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(jobs))) as pool:
            return list(pool.map(lambda job: self.run(*job), jobs))

    def run(self, program: str, tests: str) -> RunResult:
        """Run `program`, then `tests` (which raise on failure), in a fresh sandboxed process."""
        if self._servers is not None:
            return self._run_on_server(self._servers, [(program, tests)], range(1))[0]
        workdir = tempfile.mkdtemp(prefix="beyondmode-sandbox-", dir=self.tmp_root)
        try:
            if self.isolation.user is not None:
                os.chown(workdir, self.isolation.user, self.isolation.group or -1)
            with (
                tempfile.TemporaryFile(dir=self.tmp_root) as out,
                tempfile.TemporaryFile(dir=self.tmp_root) as err,
            ):
                return self._run_in(workdir, program, tests, out, err)
        finally:
            _remove_tree(workdir)

    def _run_in(self, workdir: str, program: str, tests: str, out: IO[bytes], err: IO[bytes]) -> RunResult:
        nonce = secrets.token_hex(16)
        read_fd, write_fd = os.pipe()
        payload = {
            "nonce": nonce, "result_fd": write_fd, "program": program, "tests": tests,
            "limits": self.limits.as_payload(), "probes": self.limits.probes,
            "probe_budget_s": self.limits.probe_s,
        }  # fmt: skip
        start = time.monotonic()
        try:
            try:
                process = subprocess.Popen(
                    self.isolation.command(harness_source(), workdir, disk_bytes=self.limits.disk_mb << 20),
                    stdin=subprocess.PIPE, stdout=out, stderr=err, pass_fds=(write_fd,), cwd=workdir,
                    env=self.isolation.environment(workdir), start_new_session=True,
                    **switch_user_arguments(self.isolation),
                )  # fmt: skip
            finally:
                os.close(write_fd)
            watch = None
            if self.isolation.mode is IsolationMode.PLAIN:  # bwrap: the tmpfs's size is the limit
                watch = DiskWatch(workdir, self.limits.disk_mb << 20, process.pid)
            timed_out = _wait(process, marshal.dumps(payload), self.limits.timeout_s)
            duration = time.monotonic() - start
            status = _read_status(read_fd)
        finally:
            os.close(read_fd)
            if watch is not None:
                watch.stop()
        verdict, detail, fingerprint = _verdict(timed_out, process.returncode, status, nonce)
        if watch is not None and watch.exceeded:
            verdict, detail, fingerprint = Verdict.CRASHED, "disk limit exceeded", None
        keep = self.limits.output_bytes
        return RunResult(
            verdict, detail, process.returncode, duration, _head(out, keep), _head(err, keep), fingerprint
        )

    def _run_on_server(
        self, servers: ForkServerPool, jobs: Sequence[tuple[str, str]], indices: range
    ) -> list[RunResult]:
        """`jobs[i]` for i in `indices`, in one batch on a fork server. A server that dies or hangs is an
        infrastructure failure, not the program's verdict: the job it was running is run again, from
        scratch, on a fresh server, and so are the jobs after it, which never ran (a program that kills
        its own server every time ends `crashed`, with `infrastructure_failure` set)."""
        results: dict[int, RunResult] = {}
        attempts = dict.fromkeys(indices, 0)
        pending = list(indices)
        while pending:
            nonces = [secrets.token_hex(16) for _ in pending]
            batch = [self._job(*jobs[index], nonce) for index, nonce in zip(pending, nonces, strict=True)]
            answers = servers.request(batch, self.limits.timeout_s)
            died_at = next(
                (position for position, answer in enumerate(answers) if answer is None), len(batch)
            )
            for index, nonce, answer in zip(pending[:died_at], nonces, answers, strict=False):
                results[index] = self._server_result(answer, nonce)
            if died_at == len(batch):
                break
            index = pending[died_at]
            attempts[index] += 1
            logger.warning("sandbox fork server died during a job; running it again on a fresh server")
            if attempts[index] > _SERVER_RETRIES:
                results[index] = RunResult(
                    Verdict.CRASHED, "the fork server died", None, 0.0, "", "", None, True
                )
                died_at += 1
            pending = pending[died_at:]
        return [results[index] for index in indices]

    def _job(self, program: str, tests: str, nonce: str) -> dict[str, object]:
        return {
            "nonce": nonce, "program": program, "tests": tests, "limits": self.limits.as_payload(),
            "timeout_s": self.limits.timeout_s, "output_bytes": self.limits.output_bytes,
            "probes": self.limits.probes, "probe_budget_s": self.limits.probe_s,
            "disk_bytes": self.limits.disk_mb << 20,
        }  # fmt: skip

    @staticmethod
    def _server_result(answer: dict[str, Any], nonce: str) -> RunResult:
        verdict, detail, fingerprint = _verdict(
            answer["timed_out"], answer["returncode"], answer["status"], nonce
        )
        if answer.get("disk_exceeded"):
            verdict, detail, fingerprint = Verdict.CRASHED, "disk limit exceeded", None
        text = [answer[name].decode("utf-8", "replace") for name in ("stdout", "stderr")]
        return RunResult(
            verdict,
            detail,
            answer["returncode"],
            answer["duration_s"],
            *text,
            fingerprint,
            False,
            answer.get("cpu_s"),
        )


_BATCH_MAX = 16
"""At most this many jobs per batch to a fork server: enough that the thread handoffs vanish, few enough
that one slow job does not hold a long queue behind it while other workers idle."""


def _batches(count: int, workers: int) -> list[range]:
    """Contiguous index ranges that spread `count` jobs over `workers`, about four batches per worker.

    >>> _batches(10, 2)
    [range(0, 2), range(2, 4), range(4, 6), range(6, 8), range(8, 10)]
    """
    size = max(1, min(_BATCH_MAX, -(-count // (4 * workers))))
    return [range(start, min(start + size, count)) for start in range(0, count, size)]


def _wait(process: subprocess.Popen[bytes], payload: bytes, timeout_s: float) -> bool:
    """Feed the payload and wait; kill the whole process group in every case. True when timed out.

    A timer thread kills the group at the deadline, so the wait itself blocks in waitpid: Popen.wait
    with a timeout polls with sleeps of up to 50 ms, which cost more than the run itself.
    """
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        _kill_group(process.pid)

    timer = threading.Timer(timeout_s, expire)
    timer.start()
    try:
        assert process.stdin is not None
        with contextlib.suppress(BrokenPipeError):  # the interpreter died before reading its input
            process.stdin.write(payload)
            process.stdin.close()
        process.wait()
    finally:
        timer.cancel()
        _kill_group(process.pid)
        with contextlib.suppress(ProcessLookupError):
            process.kill()  # in case it left its process group
        process.wait()
    return expired.is_set()


class DiskWatch:
    """Plain mode's disk limit for a single-shot run: a thread that checks the work directory every
    20 ms and kills the process group when its files take more than `limit_bytes`."""

    def __init__(self, workdir: str, limit_bytes: int, pgid: int) -> None:
        self.exceeded = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(workdir, limit_bytes, pgid), daemon=True)
        self._thread.start()

    def _watch(self, workdir: str, limit_bytes: int, pgid: int) -> None:
        while not self._stop.wait(0.02):
            if disk_usage_exceeds(workdir, limit_bytes):
                self.exceeded = True
                _kill_group(pgid)
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _read_status(read_fd: int) -> bytes:
    os.set_blocking(read_fd, False)
    try:
        return os.read(read_fd, _STATUS_BYTES)
    except BlockingIOError:
        return b""


def _verdict(
    timed_out: bool, returncode: int | None, status: bytes, nonce: str
) -> tuple[Verdict, str, str | None]:
    """The verdict, its detail and the behaviour fingerprint from what the result pipe holds.

    The harness writes `<nonce> pass|fail:tests:<name> <digest>\n` once the tests have run, then
    `<nonce> probes <digest>\n` after the probes. Only a pipe that *starts* with the nonce is trusted
    (the program cannot know it, and anything it writes before the harness breaks the prefix); what
    happens after the first record (a probe that hangs, kills itself) cannot change the verdict.
    """
    prefix = nonce.encode() + b" "
    lines = status.split(b"\n")
    if status.startswith(prefix) and len(lines) >= 2:
        state, _, digest = lines[0][len(prefix) :].decode("ascii", "replace").partition(" ")
        probes = "incomplete"
        if lines[1].startswith(prefix + b"probes ") and len(lines) >= 3:
            probes = lines[1][len(prefix) + len(b"probes ") :].decode("ascii", "replace")
        if state == "pass":
            return Verdict.PASSED, "", f"passed:{digest}:{probes}"
        if state.startswith("fail:tests:"):
            return Verdict.FAILED, state.removeprefix("fail:tests:"), f"failed:{digest}:{probes}"
    if timed_out:
        return Verdict.TIMEOUT, "wall-clock timeout", None
    text = status.decode("utf-8", "replace")
    phase, _, name = text.removeprefix("fail:").partition(":")
    if text.startswith("fail:") and phase in ("compile", "program"):
        return Verdict.ERROR, f"{phase}: {name}", None
    if returncode in (-signal.SIGXCPU, 128 + signal.SIGXCPU):  # bwrap reports a signal as 128 + it
        return Verdict.TIMEOUT, "CPU time limit", None  # a time limit too, whichever clock ran out first
    if returncode is not None and returncode < 0:
        return Verdict.CRASHED, f"killed by {signal.Signals(-returncode).name}", None
    return Verdict.CRASHED, f"exit status {returncode} without a verdict", None


def _head(stream: IO[bytes], limit: int) -> str:
    stream.seek(0)
    return stream.read(limit).decode("utf-8", "replace")


def _remove_tree(path: str) -> None:
    """Remove a work directory whatever the program left in it (see `_harness.remove_tree`)."""
    if not remove_tree(path):
        logger.error("sandbox could not remove the work directory %s", path)


__all__ = [
    "EXPOSE_PRAGMA",
    "RunResult",
    "Sandbox",
    "Verdict",
    "expose_line",
    "harness_source",
    "shadows_builtin",
]
