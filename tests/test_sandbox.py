"""The sandbox: right verdicts for honest programs, and every attack contained without a hang or a leak.

Each security case runs in plain mode and, where bubblewrap runs here, in bwrap mode. After every run
no process of the sandbox is left and its temporary folder is gone.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from beyondmode.sandbox import (
    EXPOSE_PRAGMA,
    IsolationMode,
    Limits,
    RunResult,
    Sandbox,
    Verdict,
    expose_line,
    harness_source,
    resolve_isolation,
)
from beyondmode.sandbox import isolation as isolation_module

TIMEOUT_S = 1.5
LIMITS = Limits(timeout_s=TIMEOUT_S, memory_mb=512)
NOT_PASSED = frozenset(Verdict) - {Verdict.PASSED}
F_OK = "def f(x):\n    return x + 1\n"
TESTS = "assert f(1) == 2\nassert f(41) == 42\n"


def _bwrap_problem() -> str | None:
    try:
        resolve_isolation("bwrap")
    except RuntimeError as error:
        return str(error)
    return None


BWRAP_PROBLEM = _bwrap_problem()
needs_bwrap = pytest.mark.skipif(
    BWRAP_PROBLEM is not None, reason=f"bubblewrap cannot run here: {BWRAP_PROBLEM}"
)
MODES = [
    pytest.param(("plain", False), id="plain"),
    pytest.param(("bwrap", False), id="bwrap", marks=needs_bwrap),
    pytest.param(("plain", True), id="plain-forkserver"),
    pytest.param(("bwrap", True), id="bwrap-forkserver", marks=needs_bwrap),
]


@pytest.fixture(autouse=True)
def _plain_mode_may_run_as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine's interpreter may not be runnable by `nobody` (a pyenv under /root): the tests opt in
    to plain mode as root explicitly, as a user would (test_plain_mode_refuses_root checks the refusal)."""
    monkeypatch.setenv("BEYONDMODE_SANDBOX_ALLOW_ROOT", "1")


@pytest.fixture(params=MODES)
def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sandbox]:
    mode, fork_server = request.param
    root = tmp_path / "sandbox-tmp"
    root.mkdir()
    sandbox = Sandbox(LIMITS, requested_mode=mode, tmp_root=str(root), fork_server=fork_server)
    yield sandbox
    sandbox.close()
    assert_no_leak(sandbox)


def sandbox_processes(tmp_root: str) -> list[tuple[str, str]]:
    """(pid, working directory) of the processes of the sandboxes under `tmp_root`: those whose working
    directory is under it, and their descendants (inside bubblewrap the directory reads /sandbox)."""
    cwds: dict[str, str] = {}
    parents: dict[str, str] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cwds[pid] = os.readlink(f"/proc/{pid}/cwd")
            with open(f"/proc/{pid}/stat") as stat:
                parents[pid] = stat.read().rpartition(")")[2].split()[1]
        except OSError:
            continue

    def ours(pid: str) -> bool:
        for _ in range(64):
            if pid not in cwds:
                return False
            if cwds[pid].startswith(tmp_root):
                return True
            pid = parents.get(pid, "0")
        return False

    return [(pid, cwd) for pid, cwd in cwds.items() if ours(pid)]


def assert_no_leak(sandbox: Sandbox) -> None:
    """No process and no temporary file is left; with fork servers (which live until `close`), no job
    process and no job directory."""
    root = sandbox.tmp_root
    assert root is not None

    def leftovers() -> tuple[list, list]:
        processes = sandbox_processes(root)
        files = [str(path) for path in Path(root).rglob("*")]
        if sandbox.fork_server and sandbox._servers is not None and sandbox._servers.running:
            processes = [(pid, cwd) for pid, cwd in processes if "/job" in cwd]
            files = [path for path in files if "/beyondmode-server-" not in path or "/job" in path]
        return processes, files

    deadline = time.monotonic() + 2.0
    while any(leftovers()) and time.monotonic() < deadline:
        time.sleep(0.05)
    processes, files = leftovers()
    assert processes == [], "sandbox processes survived the run"
    assert files == [], "sandbox left temporary files"


# ------------------------------------------------------------------------------------- honest programs
HONEST_CASES = [
    ("correct", F_OK, TESTS, Verdict.PASSED),
    ("wrong answer", "def f(x):\n    return x\n", TESTS, Verdict.FAILED),
    ("raises in the tests", "def f(x):\n    raise KeyError(x)\n", TESTS, Verdict.FAILED),
    ("syntax error", "def f(x) return x", TESTS, Verdict.ERROR),
    ("raises at definition", "1 / 0\n" + F_OK, TESTS, Verdict.ERROR),
    ("missing function", "def g(x):\n    return x + 1\n", TESTS, Verdict.FAILED),
    ("empty program", "", TESTS, Verdict.FAILED),
    ("writes in its work dir", "open('notes.txt', 'w').write('x')\n" + F_OK, TESTS, Verdict.PASSED),
    (
        "stdlib that inspects frames at import",
        "from collections import namedtuple\nimport enum, typing, dataclasses, re, heapq, math\n"
        "P = namedtuple('P', 'a')\ndef f(x):\n    return P(x).a + 1\n",
        TESTS,
        Verdict.PASSED,
    ),
    ("input() gets EOF", "x = input()\n" + F_OK, TESTS, Verdict.ERROR),
    ("unicode output", "print('héllo ✓')\n" + F_OK, TESTS, Verdict.PASSED),
    (
        "function named like a builtin, exposed",
        "def sum(a, b):\n    return a + b\n",
        f"{expose_line(['sum'])}\nassert sum(2, 3) == 5\n",
        Verdict.PASSED,
    ),
]


@pytest.mark.parametrize(
    ("program", "tests", "expected"),
    [pytest.param(p, t, v, id=name) for name, p, t, v in HONEST_CASES],
)
def test_honest_programs_get_their_verdict(
    sandbox: Sandbox, program: str, tests: str, expected: Verdict
) -> None:
    result = sandbox.run(program, tests)
    assert result.verdict is expected, (result.detail, result.stderr)
    assert result.passed is (expected is Verdict.PASSED)
    assert_no_leak(sandbox)


def test_output_is_captured_and_capped(sandbox: Sandbox) -> None:
    result = sandbox.run("print('hello')\nimport sys\nprint('oops', file=sys.stderr)\n" + F_OK, TESTS)
    assert result.passed
    assert result.stdout == "hello\n"
    assert result.stderr == "oops\n"


# ------------------------------------------------------------------------------------------ attacks
ATTACKS = [
    ("infinite loop", "while True:\n    pass\n" + F_OK, {Verdict.TIMEOUT}),
    ("sleeps forever", "import time\ntime.sleep(60)\n" + F_OK, {Verdict.TIMEOUT}),
    (
        "fork bomb",
        "import os\nwhile True:\n    os.fork()\n" + F_OK,
        {Verdict.ERROR, Verdict.TIMEOUT, Verdict.CRASHED},
    ),
    (
        "subprocess bomb",
        "import subprocess\nsubprocess.Popen(['sleep', '60'])\n" + F_OK,
        {Verdict.ERROR},
    ),
    ("memory bomb", "x = bytearray(8 << 30)\n" + F_OK, {Verdict.ERROR, Verdict.CRASHED}),
    (
        "growing memory bomb",
        "x = []\nwhile True:\n    x.append(bytearray(1 << 24))\n" + F_OK,
        {Verdict.ERROR, Verdict.CRASHED, Verdict.TIMEOUT},  # on a loaded machine it may reach the clock
    ),
    (
        "huge output",
        "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n" + F_OK,
        {Verdict.ERROR, Verdict.CRASHED, Verdict.TIMEOUT},
    ),
    (
        "huge file in its work dir",
        "open('big', 'wb').write(b'x' * (600 << 20))\n" + F_OK,
        {Verdict.ERROR, Verdict.CRASHED},
    ),
    (
        "network socket",
        "import socket\ns = socket.create_connection(('1.1.1.1', 53), timeout=1)\n" + F_OK,
        {Verdict.ERROR},
    ),
    ("kill the parent", "import os\nos.kill(os.getppid(), 9)\n" + F_OK, {Verdict.ERROR}),
    ("kill every process", "import os\nos.kill(-1, 9)\n" + F_OK, {Verdict.ERROR}),
    ("os._exit(0) before the tests", "import os\nos._exit(0)\n", {Verdict.CRASHED}),
    ("os._exit(0) inside the tests", "import os\ndef f(x):\n    os._exit(0)\n", {Verdict.CRASHED}),
    ("sys.exit(0) before the tests", "import sys\nsys.exit(0)\n", {Verdict.ERROR}),
    ("SystemExit inside the tests", "def f(x):\n    raise SystemExit(0)\n", {Verdict.FAILED}),
    ("prints OK", "print('OK')\nprint('passed')\n", {Verdict.FAILED}),
    (
        "forges a verdict on every fd",
        "import os\nfor fd in range(3, 64):\n    try:\n        os.write(fd, b'0' * 32)\n    except OSError:\n"
        "        pass\nos._exit(0)\n",
        {Verdict.CRASHED},
    ),
    (
        "patches exec and os in the harness",
        "import builtins, os\nbuiltins.exec = lambda *a, **k: None\nos._exit = lambda code: None\n"
        "os.write = lambda fd, data: len(data)\ndef f(x):\n    return 0\n",
        {Verdict.FAILED},
    ),
    (
        "shadows a builtin the tests use",
        "def abs(x):\n    return 0\ndef f(x):\n    return 0\n",
        {Verdict.FAILED},
    ),
    (
        "patches builtins the tests use",
        "import builtins\nbuiltins.abs = lambda x: 0\nbuiltins.isinstance = lambda *a: True\ndef f(x):\n    return 0\n",
        {Verdict.FAILED},
    ),
    (
        "replaces AssertionError",
        "import builtins\nbuiltins.AssertionError = ZeroDivisionError\ndef f(x):\n    return 0\n",
        {Verdict.FAILED},
    ),
    (
        "skips asserts with a trace function",
        "import sys\nsys.settrace(lambda *a: None)\ndef f(x):\n    return 0\n",
        {Verdict.ERROR},
    ),
    (
        "reads the harness frame for the nonce",
        "import sys\ndef f(x):\n    return sys._getframe(2).f_locals['nonce']\n",
        {Verdict.FAILED},
    ),
    (
        "reads frames through a traceback",
        "def f(x):\n    try:\n        raise ValueError\n    except ValueError as e:\n"
        "        return e.__traceback__.tb_frame.f_back.f_locals\n",
        {Verdict.FAILED},
    ),
    (
        "scans the heap for the nonce",
        "import gc\nnonces = [o for o in gc.get_objects() if isinstance(o, bytes) and len(o) == 32]\n" + F_OK,
        {Verdict.ERROR},
    ),
    ("loads ctypes", "import ctypes\n" + F_OK, {Verdict.ERROR}),
    (
        "leaves its process group, then loops",
        "import os\nos.setpgid(0, os.getpgid(os.getppid()))\nwhile True:\n    pass\n",
        {Verdict.TIMEOUT, Verdict.ERROR},
    ),
    (
        "sqlite database outside",
        "import sqlite3\nsqlite3.connect('/tmp/bm-evil.db')\n" + F_OK,
        {Verdict.ERROR},
    ),
    (
        "loads ctypes under a str subclass that lies",
        "class S(str):\n    def partition(self, sep):\n        return ('math', '', '')\n"
        "    def __eq__(self, other):\n        return False\n    __hash__ = str.__hash__\n"
        "__import__(S('ctypes'))\n" + F_OK,
        {Verdict.ERROR},
    ),
    (
        "reads its memory through the /dev/fd symlink",
        "open('/dev/fd/../mem', 'rb')\n" + F_OK,
        {Verdict.ERROR},
    ),
    ("opens a directory for dir_fd tricks", "import os\nos.open('/', os.O_RDONLY)\n" + F_OK, {Verdict.ERROR}),
    ("reads its own memory", "open('/proc/self/mem', 'rb')\n" + F_OK, {Verdict.ERROR}),
    ("recursion bomb", "def f(x):\n    return f(x) + 1\n", {Verdict.FAILED}),
    (
        "deep recursion bomb",
        "import sys\nsys.setrecursionlimit(10 ** 8)\ndef f(x):\n    return f(x) + 1\n",
        {Verdict.FAILED, Verdict.CRASHED, Verdict.TIMEOUT},
    ),
    (
        "thread bomb",
        "import threading, time\nfor _ in range(10000):\n    threading.Thread(target=time.sleep, args=(60,),"
        " daemon=True).start()\n" + F_OK,
        {Verdict.ERROR, Verdict.CRASHED, Verdict.TIMEOUT},
    ),
]


@pytest.mark.parametrize(("program", "allowed"), [pytest.param(p, v, id=name) for name, p, v in ATTACKS])
def test_attacks_are_contained(sandbox: Sandbox, program: str, allowed: set[Verdict]) -> None:
    start = time.monotonic()
    result = sandbox.run(program, TESTS)
    assert result.verdict in allowed, (result.verdict, result.detail, result.stderr[-500:])
    assert time.monotonic() - start < TIMEOUT_S + 3.0
    assert len(result.stdout) <= LIMITS.output_bytes and len(result.stderr) <= LIMITS.output_bytes
    assert_no_leak(sandbox)


def test_write_outside_the_work_dir_is_refused(sandbox: Sandbox, tmp_path: Path) -> None:
    target = tmp_path / "outside.txt"
    program = f"open({str(target)!r}, 'w').write('pwned')\n" + F_OK
    result = sandbox.run(program, TESTS)
    assert result.verdict is Verdict.ERROR, result.stderr
    assert not target.exists()
    escape = "import os\nos.rename('x', '../escaped')\n" + F_OK
    assert sandbox.run("open('x', 'w').write('1')\n" + escape, TESTS).verdict is Verdict.ERROR
    assert_no_leak(sandbox)


def test_patched_path_helpers_do_not_open_a_way_out(sandbox: Sandbox, tmp_path: Path) -> None:
    target = tmp_path / "outside.txt"
    program = (
        "import os, posixpath, stat\n"
        "inside = os.getcwd() + '/x'\n"
        "os.fspath = lambda p: inside\n"
        "os.fsdecode = lambda p: inside\n"
        "posixpath.realpath = lambda p, *a, **k: inside\n"
        "os.path.realpath = posixpath.realpath\n"
        "os.lstat = lambda p, *a, **k: os.stat(inside if os.path.exists(inside) else '/')\n"
        "stat.S_ISLNK = lambda mode: False\n"
        f"open({str(target)!r}, 'w').write('pwned')\n" + F_OK
    )
    result = sandbox.run(program, TESTS)
    assert result.verdict is Verdict.ERROR, result.stderr
    assert not target.exists()


@needs_bwrap
def test_bwrap_hides_files_outside_the_work_dir(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("hunter2")
    root = tmp_path / "sandbox-tmp"
    root.mkdir()
    sandbox = Sandbox(LIMITS, requested_mode="bwrap", tmp_root=str(root))
    result = sandbox.run(f"SECRET = open({str(secret)!r}).read()\n", "assert SECRET == 'hunter2'\n")
    assert result.verdict is Verdict.ERROR
    assert "FileNotFoundError" in result.detail or "PermissionError" in result.detail
    for path in ("/work", "/home", "/etc/passwd", os.getcwd()):
        listing = sandbox.run(f"import os\nFOUND = os.path.exists({path!r})\n", "assert not FOUND\n")
        assert listing.passed, f"{path} is visible inside bubblewrap"
    assert_no_leak(sandbox)


@needs_bwrap
def test_bwrap_mode_says_so() -> None:
    sandbox = Sandbox(LIMITS, requested_mode="bwrap")
    assert sandbox.mode is IsolationMode.BWRAP
    assert sandbox.run("import socket\n", "pass\n").passed  # importing is fine; sockets are not


def test_plain_mode_is_reported() -> None:
    assert Sandbox(LIMITS, requested_mode="plain").mode is IsolationMode.PLAIN


def test_missing_bwrap_falls_back_with_a_warning(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    monkeypatch.setattr(isolation_module.shutil, "which", lambda name: None)
    isolation_module._resolve.cache_clear()
    try:
        with caplog.at_level("WARNING", logger="beyondmode.sandbox.isolation"):
            isolation = resolve_isolation("auto", hash_seed=123)
        assert isolation.mode is IsolationMode.PLAIN
        assert "bwrap is not installed" in caplog.text
        with pytest.raises(RuntimeError, match="bubblewrap cannot run"):
            resolve_isolation("bwrap", hash_seed=123)
    finally:
        isolation_module._resolve.cache_clear()


@pytest.mark.parametrize("mode", ["sandboxed", "", "docker"])
def test_unknown_mode_is_refused(mode: str) -> None:
    with pytest.raises(ValueError, match="sandbox mode"):
        resolve_isolation(mode)


# ------------------------------------------------------------------------------ pool and determinism
def test_pool_results_are_in_order_and_independent_of_workers(tmp_path: Path) -> None:
    jobs = [(f"def f(x):\n    return x + {offset}\n", TESTS) for offset in (1, 0, 1, 2, 1, 1, 0, 1)] + [
        ("while True: pass", TESTS),
        (F_OK, TESTS),
    ]
    expected = [Verdict.PASSED, Verdict.FAILED, Verdict.PASSED, Verdict.FAILED, Verdict.PASSED,
                Verdict.PASSED, Verdict.FAILED, Verdict.PASSED, Verdict.TIMEOUT, Verdict.PASSED]  # fmt: skip
    for workers in (1, 3):
        sandbox = Sandbox(Limits(timeout_s=1.0), workers=workers, tmp_root=str(tmp_path))
        assert [r.verdict for r in sandbox.run_many(jobs)] == expected
    assert os.listdir(tmp_path) == []


def test_hash_seed_makes_set_order_reproducible() -> None:
    program = "print(list({'alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta'}))\n"
    seeded = Sandbox(LIMITS, requested_mode="plain", hash_seed=0)
    assert len({seeded.run(program, "").stdout for _ in range(3)}) == 1
    randomized = Sandbox(LIMITS, requested_mode="plain", hash_seed=None)
    assert len({randomized.run(program, "").stdout for _ in range(4)}) > 1


# ------------------------------------------------------------------------------------------ limits
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timeout_s", 0),
        ("memory_mb", -1),
        ("file_size_mb", 0),
        ("max_processes", 0),
        ("cpu_s", 0),
        ("output_bytes", -1),
    ],
)
def test_bad_limits_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        Limits(**{field: value})


@pytest.mark.parametrize("mode", MODES)
def test_the_cpu_limit_is_a_timeout_too(mode: tuple[str, bool], tmp_path: Path) -> None:
    """A loop that spends its 1 CPU-second before the wall clock's 10 s is `timeout`, not `crashed`
    (CI's faster cores hit the CPU limit first in a 1 s / 1 CPU-s pool test, which then read `crashed`)."""
    requested, fork_server = mode
    limits = Limits(timeout_s=10.0, cpu_s=1)
    with Sandbox(
        limits, requested_mode=requested, tmp_root=str(tmp_path), fork_server=fork_server
    ) as sandbox:
        result = sandbox.run("while True:\n    pass\n" + F_OK, TESTS)
        assert (result.verdict, result.detail) == (Verdict.TIMEOUT, "CPU time limit"), result
        assert result.duration_s < 5.0
        ignores = "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    pass\n"
        result = sandbox.run(ignores + F_OK, TESTS)  # SIGKILL at the hard limit, a second later
        killed = ("killed by SIGKILL", "exit status 137 without a verdict")  # plain; bwrap's 128 + 9
        assert result.verdict is Verdict.CRASHED and result.detail in killed, result
        assert sandbox.run(F_OK, TESTS).passed


def test_cpu_seconds_follow_the_timeout() -> None:
    assert Limits(timeout_s=0.5).cpu_seconds == 1
    assert Limits(timeout_s=2.5, cpu_s=7).cpu_seconds == 7


def test_harness_knows_the_expose_pragma() -> None:
    assert f'EXPOSE_PRAGMA = "{EXPOSE_PRAGMA}"' in harness_source()


def test_workers_must_be_positive() -> None:
    with pytest.raises(ValueError, match="workers"):
        Sandbox(LIMITS, workers=0)


def test_fork_server_sandbox_pickles_and_restarts_its_servers(tmp_path: Path) -> None:
    import pickle

    with Sandbox(LIMITS, tmp_root=str(tmp_path), fork_server=True) as sandbox:
        assert sandbox.run(F_OK, TESTS).passed
        clone = pickle.loads(pickle.dumps(sandbox))
    with clone:
        assert clone.run(F_OK, TESTS).passed
        assert clone.run("def f(x):\n    return x\n", TESTS).verdict is Verdict.FAILED
    assert os.listdir(tmp_path) == []


def test_fork_server_recovers_from_a_dead_server(tmp_path: Path) -> None:
    """A dead server is the sandbox's failure, not the next program's: the job runs again on a fresh one
    (it used to be graded `crashed`)."""
    with Sandbox(LIMITS, tmp_root=str(tmp_path), fork_server=True, workers=1) as sandbox:
        assert sandbox.run(F_OK, TESTS).passed
        assert sandbox._servers is not None
        for server in list(sandbox._servers._all):
            server.kill()
        result = sandbox.run(F_OK, TESTS)
        assert result.passed and not result.infrastructure_failure
        assert sandbox.run(F_OK, TESTS).passed
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("mode", MODES[2:], ids=["plain-forkserver", "bwrap-forkserver"])
def test_fork_servers_outlive_the_threads_that_asked_for_them(
    mode: tuple[str, bool], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """bwrap --die-with-parent kills a server when the THREAD that started it exits; `run_many`'s pool
    threads end with each call, so every batch found dead servers, failed a request and respawned them."""
    requested, _ = mode
    jobs = [(F_OK, TESTS)] * 4
    with Sandbox(LIMITS, requested_mode=requested, tmp_root=str(tmp_path), fork_server=True) as sandbox:
        for _ in range(3):
            assert all(r.passed for r in sandbox.run_many(jobs))
            caller = threading.Thread(target=lambda: sandbox.run(F_OK, TESTS))
            caller.start()
            caller.join()
        assert sandbox._servers is not None
        assert sandbox._servers.started == 2, "servers were started again: the old ones died"
    assert "fork server" not in caplog.text


SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to user nobody needs root")
@pytest.mark.skipif(not os.path.exists(SYSTEM_PYTHON), reason=f"{SYSTEM_PYTHON} is not installed")
@pytest.mark.parametrize("fork_server", [False, True], ids=["fresh", "forkserver"])
def test_plain_mode_as_root_runs_programs_as_nobody(tmp_path: Path, fork_server: bool) -> None:
    root = tmp_path / "private"
    root.mkdir(mode=0o700)  # not traversable by nobody: the sandbox must cope
    with Sandbox(
        LIMITS, requested_mode="plain", python=SYSTEM_PYTHON, tmp_root=str(root), fork_server=fork_server
    ) as sandbox:
        assert sandbox.isolation.user == 65534, sandbox.isolation.reason
        whoami = "import os\nUID = os.getuid()\nopen('mine.txt', 'w').write('x')\n" + F_OK
        assert sandbox.run(whoami, TESTS + "assert UID == 65534\n").passed
        assert sandbox.run("open('/tmp/not-mine', 'w')\n", TESTS).verdict is Verdict.ERROR
        unaudited = (
            f"import os\nos.mknod({str(tmp_path / 'planted')!r})\n" + F_OK
        )  # no audit event: permissions
        assert sandbox.run(unaudited, TESTS).verdict is Verdict.ERROR
        assert not (tmp_path / "planted").exists()
    assert os.listdir(root) == []


# ------------------------------------------------------------------------------------------ totality
DEEP_TREE = (  # built from the top (each step moves the tree one level down), so it is quick to make
    "import os\nos.mkdir('a')\nfor _ in range(1500):\n    os.mkdir('t')\n    os.rename('a', 't/a')\n"
    "    os.rename('t', 'a')\nos.chmod('a', 0o500)\n" + F_OK
)


@pytest.mark.parametrize("mode", MODES)
def test_cleanup_is_total_on_a_deep_renamed_tree(mode: tuple[str, bool], tmp_path: Path) -> None:
    """1,500 nested directories (renamed, the top one read-only): shutil.rmtree raised RecursionError
    out of the sandbox; now the run returns its verdict and leaves nothing behind."""
    requested, fork_server = mode
    limits = Limits(timeout_s=30.0, memory_mb=512)
    with Sandbox(
        limits, requested_mode=requested, tmp_root=str(tmp_path), fork_server=fork_server
    ) as sandbox:
        result = sandbox.run(DEEP_TREE, TESTS)
        assert result.verdict is Verdict.PASSED, (result.verdict, result.detail, result.stderr[-500:])
        assert sandbox.run(F_OK, TESTS).passed
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------------------ equality hacking
EQUALITY_HACKS = [
    ("class whose __eq__ is always true", "class A:\n    def __eq__(self, other):\n        return True\n"
     "def f(x):\n    return A()\n"),
    ("int subclass", "class A(int):\n    def __eq__(self, other):\n        return True\n"
     "    __hash__ = int.__hash__\ndef f(x):\n    return A(0)\n"),
    ("str subclass", "class A(str):\n    def __eq__(self, other):\n        return True\n"
     "    __hash__ = str.__hash__\ndef f(x):\n    return A('no')\n"),
    ("list subclass", "class A(list):\n    def __eq__(self, other):\n        return True\n"
     "def f(x):\n    return A()\n"),
    ("float subclass in an abs() test", "class A(float):\n    def __sub__(self, other):\n        return 0.0\n"
     "def f(x):\n    return A(-1.0)\n"),
    ("object that answers abs(f(x) - y) with 0", "class A:\n    def __sub__(self, other):\n        return self\n"
     "    def __abs__(self):\n        return 0\ndef f(x):\n    return A()\n"),
    ("always-equal object inside a list", "class A:\n    def __eq__(self, other):\n        return True\n"
     "def f(x):\n    return [A()]\n"),
    ("returned function that returns a lie", "class A:\n    def __eq__(self, other):\n        return True\n"
     "def f(x):\n    return lambda: A()\n"),
]  # fmt: skip
EQUALITY_TESTS = {
    "float subclass in an abs() test": "assert abs(f(1) - 2.0) < 1e-6\n",
    "object that answers abs(f(x) - y) with 0": "assert abs(f(1) - 2.0) < 1e-6\n",
    "always-equal object inside a list": "assert f(1) == [2]\n",
    "returned function that returns a lie": "assert f(1)() == 2\n",
}


@pytest.mark.parametrize("name", [name for name, _ in EQUALITY_HACKS])
def test_equality_hacks_fail(sandbox: Sandbox, name: str) -> None:
    """A returned value is read as exact builtin data in the harness, so no `__eq__` of the program runs
    when the tests compare it."""
    program = dict(EQUALITY_HACKS)[name]
    result = sandbox.run(program, EQUALITY_TESTS.get(name, TESTS))
    assert result.verdict is Verdict.FAILED, (result.verdict, result.detail, result.stderr[-300:])


PLAIN_RESULTS = [
    ("namedtuple against a tuple", "from collections import namedtuple\nP = namedtuple('P', 'a b')\n"
     "def f(x):\n    return P(x, x + 1)\n", "assert f(1) == (1, 2)\n"),
    ("Counter against a dict", "from collections import Counter\ndef f(x):\n    return Counter('aab')\n",
     "assert f(1) == {'a': 2, 'b': 1}\n"),
    ("int result against a float", "def f(x):\n    return 3\n", "assert f(1) == 3.0\n"),
    ("bool result against an int", "def f(x):\n    return True\n", "assert f(1) == 1\n"),
    ("nested data", "def f(x):\n    return {'k': [(1, 2.5), {3}], 'n': None}\n",
     "assert f(1) == {'k': [(1, 2.5), {3}], 'n': None}\n"),
    ("returned function", "def f(x):\n    return lambda: x + 1\n", "assert f(1)() == 2\n"),
    ("instances of the program's class passed in", "class P:\n    def __init__(self, v):\n        self.v = v\n"
     "def f(items):\n    return sum(p.v for p in items)\n", "assert f([P(1), P(2)]) == 3\n"),
]  # fmt: skip


@pytest.mark.parametrize(("program", "tests"), [pytest.param(p, t, id=n) for n, p, t in PLAIN_RESULTS])
def test_honest_results_still_pass(program: str, tests: str) -> None:
    with Sandbox(LIMITS) as sandbox:
        result = sandbox.run(program, tests)
    assert result.passed, (result.verdict, result.detail, result.stderr[-300:])


# ------------------------------------------------------------------------------ cross-job interference
HONEST_OBSERVER = (  # its answer depends on everything an earlier job could have left behind
    "import json, math, os, sys\n"
    "def f(x):\n"
    "    seen = len(os.listdir('.')) + len(os.listdir('..')) + len(os.listdir(os.environ['TMPDIR']))\n"
    "    patched = (json.dumps([1]) != '[1]') + (math.sqrt(4) != 2.0) + ('PLANTED' in os.environ)\n"
    "    return x + 1 + 100 * seen * 0 + 1000 * patched + 0 * len(sys.modules)\n"
    "SEEN = len(os.listdir('.')), len(os.listdir('..')), len(os.listdir(os.environ['TMPDIR']))\n"
)
OBSERVER_TESTS = TESTS + "assert SEEN == FIRST_SEEN, SEEN\n"
HOSTILE_SEQUENCE = [
    ("leaves files in its directory and above", "import os\nopen('left', 'w').write('x')\n"
     "os.mknod('../planted')\nos.mkfifo('../planted-fifo')\n" + F_OK),
    ("traps the old predictable names of the next jobs", "import os\nfor n in range(1, 40):\n"
     "    for name in (f'../job{n}', f'../.job{n}.out', f'../.job{n}.err'):\n"
     "        try:\n            os.mkfifo(name)\n        except OSError:\n            pass\n" + F_OK),
    ("patches the stdlib and the environment", "import json, math, os, sys\njson.dumps = lambda *a, **k: 'x'\n"
     "math.sqrt = lambda x: 0\nos.environ['PLANTED'] = '1'\nsys.modules['json'] = math\n" + F_OK),
    ("kills its fork server", "import os, signal\n"
     "signal.pidfd_send_signal(os.pidfd_open(os.getppid()), signal.SIGKILL)\n" + F_OK),
    ("writes a database next door with VACUUM INTO", "import sqlite3\nc = sqlite3.connect(':memory:')\n"
     "c.execute('create table t (x)')\nc.execute(\"vacuum into '../next.db'\")\n" + F_OK),
    ("fills its disk", "for i in range(5):\n    open(f'fill{i}', 'wb').write(b'x' * (10 << 20))\n" + F_OK),
    ("hangs", "while True:\n    pass\n"),
]  # fmt: skip
ISOLATING_MODES = [MODES[1], MODES[2], MODES[3]]  # plain mode without fork servers shares the host's /tmp


@pytest.mark.parametrize("mode", ISOLATING_MODES)
def test_hostile_programs_do_not_change_an_honest_verdict(mode: tuple[str, bool], tmp_path: Path) -> None:
    """Whatever a sequence of hostile jobs does (files and FIFOs left behind, traps at guessable names,
    stdlib patches, killing the fork server, writes the audit hook does not see), the next honest job
    gets exactly the verdict and fingerprint it gets on a fresh sandbox."""
    requested, fork_server = mode
    with Sandbox(
        LIMITS, requested_mode=requested, tmp_root=str(tmp_path), fork_server=fork_server, workers=1
    ) as sandbox:
        probe = sandbox.run(HONEST_OBSERVER + "print(SEEN)\n", TESTS)
        assert probe.passed, (probe.verdict, probe.detail, probe.stderr)
        tests = f"FIRST_SEEN = {probe.stdout.strip()}\n" + OBSERVER_TESTS
        baseline = sandbox.run(HONEST_OBSERVER, tests)
        assert baseline.passed, (baseline.verdict, baseline.detail, baseline.stderr)
        for name, program in HOSTILE_SEQUENCE:
            sandbox.run(program, TESTS)
            honest = sandbox.run(HONEST_OBSERVER, tests)
            assert (honest.verdict, honest.fingerprint) == (baseline.verdict, baseline.fingerprint), (
                name,
                honest.detail,
                honest.stderr[-300:],
            )
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("mode", MODES[2:], ids=["plain-forkserver", "bwrap-forkserver"])
def test_hostile_jobs_inside_one_batch_do_not_change_an_honest_verdict(
    mode: tuple[str, bool], tmp_path: Path
) -> None:
    """`run_many` sends fork servers batches of jobs: an honest job after a hostile one IN THE SAME BATCH
    gets its own verdict, a job that kills its server is retried and then `crashed` (an infrastructure
    failure), and the jobs queued behind it in that batch still run, on a fresh server."""
    requested, _ = mode
    with Sandbox(
        LIMITS, requested_mode=requested, tmp_root=str(tmp_path), fork_server=True, workers=1
    ) as sandbox:
        probe = sandbox.run(HONEST_OBSERVER + "print(SEEN)\n", TESTS)
        tests = f"FIRST_SEEN = {probe.stdout.strip()}\n" + OBSERVER_TESTS
        baseline = sandbox.run(HONEST_OBSERVER, tests)
        assert baseline.passed, (baseline.verdict, baseline.detail, baseline.stderr)
        jobs = [
            job for _, program in HOSTILE_SEQUENCE for job in ((program, TESTS), (HONEST_OBSERVER, tests))
        ]
        results = sandbox.run_many(jobs)
        assert sandbox._servers is not None
        started = sandbox._servers.started
    names = [name for name, _ in HOSTILE_SEQUENCE]
    for name, honest in zip(names, results[1::2], strict=True):
        assert (honest.verdict, honest.fingerprint) == (baseline.verdict, baseline.fingerprint), (
            name,
            honest.detail,
            honest.stderr[-300:],
        )
    killer = results[2 * names.index("kills its fork server")]
    assert killer.verdict is Verdict.CRASHED and killer.infrastructure_failure
    assert started == 3, "one server, then one for each of the killer's two attempts"
    assert os.listdir(tmp_path) == []


def test_frames_and_answers_larger_than_a_pipe_do_not_block_each_other(tmp_path: Path) -> None:
    """Job frames of 100 KB and answers of 150 KB, both more than a pipe holds: the parent writes the
    next job while the server writes the last answer, so it reads answers while it writes."""
    loud = "# " + "x" * 100_000 + "\nprint('y' * 150_000)\n" + F_OK
    limits = Limits(timeout_s=TIMEOUT_S, memory_mb=512, output_bytes=200_000)
    with Sandbox(limits, tmp_root=str(tmp_path), fork_server=True, workers=1) as sandbox:
        results = sandbox.run_many([(loud, TESTS)] * 24)
    assert [result.verdict for result in results] == [Verdict.PASSED] * 24
    assert all(len(result.stdout) == 150_001 for result in results)


def test_fork_servers_work_for_a_process_with_many_open_files(tmp_path: Path) -> None:
    """A training process can hold more than 1024 descriptors, so the servers' pipes get numbers that
    `select` rejects: the parent waits with `poll`."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"the descriptor limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held = []
    try:
        while not held or held[-1] < 1100:
            held.append(os.open(os.devnull, os.O_RDONLY))
        with Sandbox(LIMITS, tmp_root=str(tmp_path), fork_server=True, workers=1) as sandbox:
            results = sandbox.run_many([(F_OK, TESTS)] * 8)
        assert [result.verdict for result in results] == [Verdict.PASSED] * 8
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _descendants(pid: int) -> list[int]:
    """`pid` and every process below it (read from /proc/<pid>/task/*/children)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                pending += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


def _memory_holds(pid: int, needle: bytes) -> bool:
    """True when a readable, writable mapping of process `pid` contains `needle` (needs ptrace rights)."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
        memory = open(f"/proc/{pid}/mem", "rb", buffering=0)  # noqa: SIM115
    except OSError:
        return False
    with memory:
        for line in maps:
            span, permissions = line.split()[:2]
            if not permissions.startswith("rw"):
                continue
            start, end = (int(value, 16) for value in span.split("-"))
            try:
                memory.seek(start)
                if needle in memory.read(end - start):
                    return True
            except (OSError, OverflowError, ValueError):
                continue
    return False


@needs_bwrap
@pytest.mark.skipif(os.geteuid() != 0, reason="reading another process's memory needs root here")
def test_a_job_never_holds_the_nonce_of_a_later_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The jobs of one `run_many` batch wait in the pipe, not in the server's memory, so a job (which is a
    fork of the server) cannot find the nonce that would forge a later job's pass. Checked by reading the
    memory of every process of the sandbox while the first job runs; its own nonce is found there (the
    scan works), the next job's is not."""
    sleeper = "import time\ntime.sleep(1.0)\n" + F_OK
    with Sandbox(
        LIMITS, requested_mode="bwrap", tmp_root=str(tmp_path), fork_server=True, workers=1
    ) as sandbox:
        assert sandbox.run(F_OK, TESTS).passed  # the server is up
        assert sandbox._servers is not None
        server = sandbox._servers._all[0]
        nonces: list[str] = []
        make_job = sandbox._job

        def recording_job(program: str, tests: str, nonce: str) -> dict[str, object]:
            nonces.append(nonce)
            return make_job(program, tests, nonce)

        monkeypatch.setattr(sandbox, "_job", recording_job)
        results: list[RunResult] = []
        batch = threading.Thread(
            target=lambda: results.extend(sandbox.run_many([(sleeper, TESTS)] + [(F_OK, TESTS)] * 7))
        )
        batch.start()
        time.sleep(0.4)  # the first job is sleeping; the second, of the same batch, is queued
        processes = _descendants(server.process.pid)
        holds_first = any(_memory_holds(pid, nonces[0].encode()) for pid in processes)
        holds_second = any(_memory_holds(pid, nonces[1].encode()) for pid in processes)
        batch.join()
    assert [result.passed for result in results] == [True] * 8
    assert holds_first, "the scan did not find the running job's own nonce: it proves nothing"
    assert not holds_second, "a process of the sandbox holds the nonce of a job that has not started"


# ---------------------------------------------------------------------- isolation beyond the audit hook
UNAUDITED_WRITES = [  # none of these raises an audit event: only namespaces or permissions can stop them
    ("mknod", "import os\nos.mknod({path!r})\n"),
    ("mkfifo", "import os\nos.mkfifo({path!r})\n"),
    ("sqlite VACUUM INTO", "import sqlite3\nc = sqlite3.connect(':memory:')\nc.execute('create table t (x)')\n"
     "c.execute(\"vacuum into '{path}'\")\n"),
    ("sqlite ATTACH", "import sqlite3\nc = sqlite3.connect(':memory:')\n"
     "c.execute(\"attach database '{path}' as other\")\nc.execute('create table other.t (x)')\n"),
]  # fmt: skip


@needs_bwrap
@pytest.mark.parametrize("fork_server", [False, True], ids=["fresh", "forkserver"])
@pytest.mark.parametrize(("kind", "template"), UNAUDITED_WRITES, ids=[kind for kind, _ in UNAUDITED_WRITES])
def test_unaudited_writes_do_not_reach_the_host_under_bwrap(
    kind: str, template: str, fork_server: bool, tmp_path: Path
) -> None:
    host_file = tmp_path / "written-by-the-candidate"
    for path in (str(host_file), "/tmp/" + host_file.name):
        with Sandbox(LIMITS, requested_mode="bwrap", fork_server=fork_server) as sandbox:
            sandbox.run(template.format(path=path) + F_OK, TESTS)
        assert not host_file.exists() and not Path(path).exists(), kind


@needs_bwrap
def test_a_job_cannot_signal_host_processes_under_bwrap() -> None:
    """pidfd_send_signal raises no audit event; the PID namespace hides the host's processes (here: the
    test's own process and its parent; a harmless signal 0 tells whether they were reachable)."""
    program = (
        "import os, signal\nfor pid in range(2, 4 << 20):\n    try:\n"
        "        signal.pidfd_send_signal(os.pidfd_open(pid), 0)\n        raise SystemExit(f'reached {pid}')\n"
        "    except (ProcessLookupError, OSError):\n        pass\n" + F_OK
    )
    with Sandbox(LIMITS, requested_mode="bwrap") as sandbox:
        result = sandbox.run(program.replace("range(2, 4 << 20)", f"[{os.getpid()}, {os.getppid()}]"), TESTS)
    assert result.passed, (result.verdict, result.detail, result.stderr[-300:])


@pytest.mark.parametrize("mode", MODES)
def test_disk_use_of_a_job_is_capped(mode: tuple[str, bool], tmp_path: Path) -> None:
    """Many files under the per-file limit used to add up to any size (600 MiB); now the job's total is."""
    requested, fork_server = mode
    limits = Limits(timeout_s=10.0, memory_mb=512, file_size_mb=12, disk_mb=32)
    program = "for i in range(6):\n    open(f'part{i}', 'wb').write(b'x' * (10 << 20))\nimport time\ntime.sleep(0.2)\n"
    with Sandbox(
        limits, requested_mode=requested, tmp_root=str(tmp_path), fork_server=fork_server
    ) as sandbox:
        result = sandbox.run(program + F_OK, TESTS)
        assert result.verdict in {Verdict.ERROR, Verdict.CRASHED}, (result.verdict, result.detail)
        assert sandbox.run("open('small', 'wb').write(b'x' * (10 << 20))\n" + F_OK, TESTS).passed
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="the refusal concerns root")
def test_plain_mode_refuses_root_unless_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """As root, plain mode switches to `nobody`; where the interpreter cannot run as nobody (a pyenv
    under /root) it refuses, naming the option, instead of running candidates as root."""
    monkeypatch.delenv("BEYONDMODE_SANDBOX_ALLOW_ROOT")
    monkeypatch.setattr(isolation_module, "_probe", lambda isolation: "[Errno 13] Permission denied")
    isolation_module._resolve.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="allow_root=True"):
            resolve_isolation("plain")
        allowed = resolve_isolation("plain", allow_root=True)
        assert allowed.user is None and "allowed explicitly" in allowed.reason
    finally:
        isolation_module._resolve.cache_clear()


def test_kill_everything_is_only_armed_inside_a_private_pid_namespace() -> None:
    """The fork server's kill(-1) after each job must never run on the host (as root it kills every
    process of the machine): the check fails here, in the test process."""
    from beyondmode.sandbox import _harness

    assert _harness._in_private_pid_namespace() is False
