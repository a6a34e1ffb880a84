"""How the sandboxed interpreter is started: under bubblewrap when it works here, else a plain subprocess.

`resolve_isolation` probes once per (requested mode, interpreter, hash seed) and caches the answer:

- `bwrap`: bubblewrap with every namespace unshared (no network, own PID namespace, uid 65534 inside),
  an empty read-only root with only the system libraries and the interpreter's installation mounted
  read-only, /dev read-only, and two size-limited private tmpfs: /tmp and the work directory /sandbox
  (the only writable places; nothing of the host is writable).
- `plain`: a subprocess in its own session. When the parent is root, the child runs as `nobody` if the
  interpreter is runnable by that user (so RLIMIT_NPROC and file permissions apply); otherwise plain
  mode refuses to start unless root was allowed explicitly (`allow_root`, BEYONDMODE_SANDBOX_ALLOW_ROOT=1).
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from beyondmode.sandbox._harness import remove_tree

logger = logging.getLogger(__name__)

SANDBOX_DIR = "/sandbox"
"""Where the work directory appears inside bubblewrap."""
_NOBODY_ID = 65534
_SYSTEM_PATHS = ("/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin", "/etc/ld.so.cache",
                 "/etc/localtime")  # fmt: skip
_PROBE_TIMEOUT_S = 20.0


class IsolationMode(StrEnum):
    """`bwrap`: bubblewrap namespaces; `plain`: rlimits, a session and an audit hook only."""

    BWRAP = "bwrap"
    PLAIN = "plain"


@dataclass(frozen=True, slots=True)
class Isolation:
    """A resolved way to start the interpreter. `user`/`group` are the ids to switch to (None: keep)."""

    mode: IsolationMode
    python: str
    hash_seed: int | None
    user: int | None
    group: int | None
    bind_paths: tuple[str, ...]
    reason: str

    def command(
        self, harness_source: str, workdir: str, arguments: Sequence[str] = (), disk_bytes: int = 64 << 20
    ) -> list[str]:
        """argv that runs `harness_source` (with `arguments`) in `workdir` under this isolation. Under
        bwrap the work directory is a fresh tmpfs of `disk_bytes` at /sandbox (the host's `workdir` is
        only the process's starting point), and /tmp another one."""
        interpreter = [self.python, *self.python_flags(), "-c", harness_source, *arguments]
        if self.mode is IsolationMode.PLAIN:
            return interpreter
        return [*self.bwrap_prefix(disk_bytes), *interpreter]

    def python_flags(self) -> list[str]:
        # -I ignores PYTHONHASHSEED; with a fixed seed we keep -I's other parts (-s -P) and scrub the
        # environment ourselves. -S: no site-packages, faster start.
        return ["-I", "-S"] if self.hash_seed is None else ["-s", "-P", "-S"]

    def bwrap_prefix(self, disk_bytes: int = 64 << 20) -> list[str]:
        binds: list[str] = []
        for path in self.bind_paths:
            binds += ["--ro-bind-try", path, path]
        size = str(disk_bytes)
        return [
            "bwrap", "--unshare-all", "--uid", str(_NOBODY_ID), "--gid", str(_NOBODY_ID),
            "--die-with-parent", "--hostname", "sandbox", *binds,
            "--proc", "/proc", "--dev", "/dev", "--size", size, "--tmpfs", "/tmp",
            "--size", size, "--tmpfs", SANDBOX_DIR, "--remount-ro", "/dev", "--chdir", SANDBOX_DIR,
            "--remount-ro", "/",
        ]  # fmt: skip

    def environment(self, workdir: str) -> dict[str, str]:
        """The scrubbed environment: nothing of the parent's is inherited."""
        home = SANDBOX_DIR if self.mode is IsolationMode.BWRAP else workdir
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": home, "TMPDIR": home}
        if self.hash_seed is not None:
            env["PYTHONHASHSEED"] = str(self.hash_seed)
        return env


def resolve_isolation(
    requested: str = "auto",
    python: str | None = None,
    hash_seed: int | None = 0,
    allow_root: bool | None = None,
) -> Isolation:
    """Pick and probe the isolation. `requested`: "auto" (bwrap if it runs here, else plain), "bwrap"
    (raise if it cannot run), or "plain". Plain mode as root switches to user `nobody`; where it cannot,
    it raises unless `allow_root` (default: the environment variable BEYONDMODE_SANDBOX_ALLOW_ROOT=1)."""
    if requested not in ("auto", "bwrap", "plain"):
        raise ValueError(f"sandbox mode must be 'auto', 'bwrap' or 'plain', got {requested!r}")
    if allow_root is None:
        allow_root = os.environ.get(ALLOW_ROOT_VARIABLE, "") == "1"
    return _resolve(requested, os.path.realpath(python or sys.executable), hash_seed, allow_root)


@lru_cache(maxsize=16)
def _resolve(requested: str, python: str, hash_seed: int | None, allow_root: bool) -> Isolation:
    if requested != "plain":
        isolation, problem = _try_bwrap(python, hash_seed)
        if isolation is not None:
            logger.info("sandbox mode: bwrap (%s)", isolation.reason)
            return isolation
        if requested == "bwrap":
            raise RuntimeError(f"sandbox mode 'bwrap' was requested but bubblewrap cannot run: {problem}")
        logger.warning(
            "sandbox falls back to plain mode (no namespaces, no read protection): %s. "
            "Install bubblewrap (apt-get install bubblewrap) for the full sandbox.",
            problem,
        )
    isolation = _plain(python, hash_seed, allow_root)
    logger.info("sandbox mode: plain (%s)", isolation.reason)
    return isolation


def _try_bwrap(python: str, hash_seed: int | None) -> tuple[Isolation | None, str]:
    if shutil.which("bwrap") is None:
        return None, "bwrap is not installed"
    prefixes = _install_prefixes(python)
    binds = tuple(dict.fromkeys([*_SYSTEM_PATHS, *prefixes, os.path.dirname(python)]))
    isolation = Isolation(IsolationMode.BWRAP, python, hash_seed, None, None, binds, "bubblewrap works here")
    problem = _probe(isolation)
    return (isolation, "") if problem is None else (None, problem)


ALLOW_ROOT_VARIABLE = "BEYONDMODE_SANDBOX_ALLOW_ROOT"
"""Set to 1 to let plain mode run candidates as root where it cannot switch to `nobody`."""


def _plain(python: str, hash_seed: int | None, allow_root: bool) -> Isolation:
    if os.geteuid() != 0:
        return Isolation(IsolationMode.PLAIN, python, hash_seed, None, None, (), "as the current user")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        nobody = None
    problem = "there is no user nobody"
    if nobody is not None:
        candidate = Isolation(
            IsolationMode.PLAIN, python, hash_seed, nobody.pw_uid, nobody.pw_gid, (), "as user nobody"
        )
        problem = _probe(candidate) or ""
        if not problem:
            return candidate
        if not os.access(python, os.X_OK) or "Permission denied" in problem:
            problem = (
                f"the interpreter {python} is not readable by user nobody (a pyenv under /root, say): "
                f"{problem}"
            )
    if not allow_root:
        raise RuntimeError(
            "sandbox refuses to run untrusted programs as root in plain mode (no bubblewrap): "
            f"{problem}. Install bubblewrap (apt-get install bubblewrap), or pass an interpreter that user "
            "nobody can run (Sandbox(python='/usr/bin/python3')), or accept the risk explicitly with "
            f"Sandbox(allow_root=True) or {ALLOW_ROOT_VARIABLE}=1."
        )
    logger.warning("sandbox runs untrusted programs as root in plain mode (allowed explicitly): %s", problem)
    return Isolation(IsolationMode.PLAIN, python, hash_seed, None, None, (), "as root (allowed explicitly)")


def _install_prefixes(python: str) -> list[str]:
    """Directories of the interpreter's installation (they are mounted read-only under bwrap)."""
    code = "import sys; print(sys.base_prefix); print(sys.base_exec_prefix)"
    done = subprocess.run(
        [python, "-I", "-S", "-c", code],
        capture_output=True,
        text=True,
        timeout=_PROBE_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"sandbox interpreter {python} does not run: {done.stderr.strip()[-500:]}")
    return [line for line in done.stdout.splitlines() if line and line != "/"]


def _probe(isolation: Isolation) -> str | None:
    """Run a trivial program exactly as candidates will run; None when it works, else the problem."""
    workdir = tempfile.mkdtemp(prefix="beyondmode-probe-")
    try:
        if isolation.user is not None:
            os.chown(workdir, isolation.user, isolation.group or -1)
        code = "import os; open('probe', 'w').write(str(os.getpid())); print('probe ok')"
        command = isolation.command(code, workdir)
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=_PROBE_TIMEOUT_S, check=False,
            cwd=workdir, env=isolation.environment(workdir), start_new_session=True,
            **switch_user_arguments(isolation),
        )  # fmt: skip
        if done.returncode != 0:
            return f"exit status {done.returncode}: {done.stderr.strip()[-500:]}"
        if done.stdout.strip() != "probe ok":
            return "the work directory is not writable inside the sandbox"
        return None
    except (OSError, subprocess.SubprocessError) as error:
        return str(error)
    finally:
        remove_tree(workdir)


def switch_user_arguments(isolation: Isolation) -> dict[str, object]:
    """Popen keyword arguments that start the child as the isolation's user (no preexec_fn needed)."""
    if isolation.user is None:
        return {}
    return {"user": isolation.user, "group": isolation.group, "extra_groups": []}
