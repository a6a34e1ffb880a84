"""The program the sandboxed interpreter runs (passed with `-c`; stdlib only, never imported by the parent).

Protocol: the parent writes one marshalled dict on stdin {nonce, result_fd, program, tests, limits}
(marshal, not json: importing json costs the interpreter ~10 ms, a third of its start). The
harness reads it, applies the resource limits, compiles both sources, arms an audit hook, runs the
candidate program, then the tests in a fresh namespace with a snapshot of the builtins taken before the
candidate ran, and only then writes the nonce to `result_fd` and exits with os._exit(0). The parent
accepts a pass only when the exit status is 0 AND the result pipe holds exactly the nonce, so a program
that prints "OK", exits early (os._exit(0), sys.exit(0)) or breaks the harness fails.

Everything the success path needs after the candidate has run (exec, os.write, os._exit, the nonce) is
bound to locals of `main` beforehand: patching builtins or the os module cannot reach it, and the audit
hook blocks the ways to read another frame's locals (sys._getframe, tracebacks' tb_frame, gc, ctypes,
settrace, code-object forging). On failure the harness writes "fail:<phase>:<exception name>" instead:
diagnostics only, never trusted.
"""

import os
import sys

_BLOCKED_EVENTS = frozenset(
    {
        "os.fork", "os.forkpty", "os.system", "os.exec", "os.spawn", "os.posix_spawn", "subprocess.Popen",
        "os.kill", "os.killpg", "signal.pthread_kill", "os.setuid", "os.chroot",
        "sys._getframe", "sys._current_frames", "sys.settrace", "sys.setprofile",
        "gc.get_objects", "gc.get_referrers", "gc.get_referents",
        "socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo", "socket.sendto",
        "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata", "ctypes.addressof",
        "code.__new__", "function.__new__", "resource.setrlimit", "resource.prlimit",
        "sqlite3.enable_load_extension", "sqlite3.load_extension",
    }
)  # fmt: skip
_BLOCKED_MODULES = frozenset(
    {"ctypes", "_ctypes", "_posixsubprocess", "_testcapi", "_testinternalcapi", "_xxsubinterpreters"}
)
_FRAME_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back", "f_locals"})
_PATH_EVENTS = frozenset(
    {
        "os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.symlink", "os.link", "os.truncate",
        "os.chmod", "os.chown", "os.utime", "os.setxattr", "os.removexattr", "shutil.rmtree",
        "sqlite3.connect",
    }
)  # fmt: skip
EXPOSE_PRAGMA = "# sandbox-expose:"
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _make_hook(
    workdir,
    *,
    _str=str,
    _bytes=bytes,
    _int=int,
    _type=type,
    _error=PermissionError,
    _no_frame=ValueError,
    _lstat=os.lstat,
    _readlink=os.readlink,
    _getcwd=os.getcwd,
):
    """The audit hook. Every function it calls is bound here and is a C builtin (no os.path, no
    os.fsdecode: the program could patch their module-level helpers), so patching cannot weaken it."""
    prefix = workdir.rstrip("/") + "/"
    blocked_events, blocked_modules = _BLOCKED_EVENTS, _BLOCKED_MODULES
    frame_attributes, path_events, write_flags = _FRAME_ATTRIBUTES, _PATH_EVENTS, _WRITE_FLAGS
    two_path_events = frozenset({"os.rename", "os.link", "os.symlink"})

    def exact(text):
        return _str.__add__("", text)  # a plain str even from a str subclass that lies about itself

    def resolve(path):
        """The absolute path with every symbolic link followed, like os.path.realpath."""
        # Only plain str/bytes: another object's __fspath__ could answer differently the second time.
        if _type(path) is _bytes:
            path = _bytes.decode(path, "utf-8", "surrogateescape")
        elif _type(path) is not _str:
            raise _error("sandbox: file paths must be str or bytes")
        if not path.startswith("/"):
            path = _getcwd() + "/" + path
        pending, resolved, hops = path.split("/")[::-1], [], 0
        while pending:
            part = pending.pop()
            if part in ("", "."):
                continue
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            current = "/" + "/".join([*resolved, part])
            try:
                mode = _lstat(current).st_mode
            except OSError:
                resolved.append(part)
                continue
            if mode & 0o170000 != 0o120000:
                resolved.append(part)
                continue
            hops += 1
            if hops > 40:
                raise _error("sandbox: too many symbolic links")
            target = _readlink(current)
            if target.startswith("/"):
                resolved = []
            pending.extend(target.split("/")[::-1])
        return "/" + "/".join(resolved)

    def inside(path):
        if _type(path) is _int:
            return True
        resolved = resolve(path)
        return resolved == workdir or resolved.startswith(prefix) or resolved == "/dev/null"

    def check_open(path, mode, flags):
        if _type(path) is _int:
            return
        resolved = resolve(path)
        if resolved.startswith(("/proc/", "/dev/mem")) or resolved == "/proc":
            raise _error(f"sandbox: opening {resolved!r} is not allowed")
        try:
            is_directory = _lstat(resolved).st_mode & 0o170000 == 0o040000
        except OSError:
            is_directory = False
        if is_directory:  # a directory fd would let dir_fd= calls write anywhere
            raise _error(f"sandbox: opening the directory {resolved!r} is not allowed")
        writing = (_type(mode) is _str and ("w" in mode or "a" in mode or "x" in mode or "+" in mode)) or (
            _type(flags) is _int and flags & write_flags
        )
        if writing and not inside(path):
            raise _error(f"sandbox: writing {resolved!r} outside the work directory")

    def hook(event, args):
        if event in blocked_events:
            if event == "sys._getframe":  # ValueError: what namedtuple, enum and typing already catch
                raise _no_frame("sandbox: sys._getframe is not allowed")
            raise _error(f"sandbox: {event} is not allowed")
        if event == "import" and exact(args[0]).partition(".")[0] in blocked_modules:
            raise _error(f"sandbox: importing {exact(args[0])} is not allowed")
        if event == "object.__getattr__" and exact(args[1]) in frame_attributes:
            raise _error(f"sandbox: reading {exact(args[1])} is not allowed")
        if event == "object.__setattr__" and exact(args[1]) == "__code__":
            raise _error("sandbox: replacing __code__ is not allowed")
        if event == "open":
            check_open(*args)
        elif event in path_events:
            for value in args[: 2 if event in two_path_events else 1]:
                if not inside(value):
                    raise _error(f"sandbox: {event} outside the work directory")

    return hook


def _apply_limits(limits):
    import resource

    pairs = (
        (resource.RLIMIT_AS, limits["memory_bytes"]),
        (resource.RLIMIT_CPU, limits["cpu_s"]),
        (resource.RLIMIT_FSIZE, limits["file_size_bytes"]),
        (resource.RLIMIT_NPROC, limits["max_processes"]),
        (resource.RLIMIT_NOFILE, limits["max_open_files"]),
        (resource.RLIMIT_CORE, 0),
    )
    for which, value in pairs:
        # CPU: SIGXCPU (which ends the job: verdict timeout) at the limit, SIGKILL a second later for a
        # program that ignores SIGXCPU (soft = hard would SIGKILL at once: verdict crashed).
        resource.setrlimit(which, (value, value + 1 if which == resource.RLIMIT_CPU else value))


def _exposed_names(tests):
    """Names the tests declare with `# sandbox-expose: name, ...`: program names that may shadow builtins
    in the tests' namespace (the function under test is called `sum`, say). Other program names that
    shadow builtins are hidden from the tests, so `def abs(x): return 0` cannot rig `abs(f(x) - y) < 1e-6`.
    """
    names = set()
    for line in tests.splitlines():
        if line.startswith(EXPOSE_PRAGMA):
            names.update(name.strip() for name in line[len(EXPOSE_PRAGMA) :].split(","))
    return names


class _NotPlain(Exception):
    """A value that is not plain data (int, float, complex, bool, str, bytes, None and lists, tuples, dicts,
    sets of them)."""


class _ProbeTimeout(BaseException):
    pass


def _make_plain(*, _type=type, _issubclass=issubclass, _len=len, _sorted=sorted, _format=format):
    """`plain(value)`: the value as exact builtin types, read from the objects' storage through the base
    types' own C methods, so that no method of a subclass runs and no `__eq__` can lie; _NotPlain for
    anything else. `canon(value)`: a canonical text of a plain value (sets and dicts sorted) that says
    its exact type. Both are bound before the candidate runs."""
    scalars = frozenset({int, float, complex, bool, str, bytes, _type(None)})
    to_base = (
        (bool, None), (int, int.__int__), (float, float.__float__), (complex, complex.__complex__),
        (str, str.__str__), (bytes, bytes.__bytes__), (list, list.copy), (dict, dict.copy),
        (tuple, lambda value: tuple.__getitem__(value, slice(None))), (set, set.copy),
        (frozenset, frozenset.copy),
    )  # fmt: skip
    meta, list_type, tuple_type, dict_type, set_type, frozenset_type = type, list, tuple, dict, set, frozenset
    items_of, join, int_type, float_type, float_repr = dict.items, str.join, int, float, float.__repr__

    def plain(value, depth=0):
        kind = _type(value)
        if kind in scalars:
            return value
        if depth > 200:
            raise _NotPlain("nested deeper than 200 levels")
        if kind is list_type or kind is tuple_type:
            return kind([plain(item, depth + 1) for item in value])
        if kind is dict_type:
            return {plain(key, depth + 1): plain(item, depth + 1) for key, item in items_of(value)}
        if kind is set_type or kind is frozenset_type:
            return kind([plain(item, depth + 1) for item in value])
        if _type(kind) is meta:  # a custom metaclass could fake the MRO that issubclass reads
            for base, convert in to_base:
                if convert is not None and _issubclass(kind, base):
                    return plain(convert(value), depth + 1)
        raise _NotPlain(kind)

    def canon(value):
        kind = _type(value)
        if kind is float_type:
            return "f" + float_repr(value)
        if kind is int_type:
            return "i" + _format(value, "x")  # hexadecimal: no digit limit
        if kind in scalars:
            return kind.__name__ + ":" + repr(value)
        if kind is list_type or kind is tuple_type:
            return kind.__name__ + "[" + join(",", [canon(item) for item in value]) + "]"
        if kind is dict_type:
            return "dict{" + join(",", _sorted([canon(k) + ":" + canon(v) for k, v in items_of(value)])) + "}"
        return kind.__name__ + "{" + join(",", _sorted([canon(item) for item in value])) + "}"

    return plain, canon


def _probe_variants(value):
    """Inputs near `value` (same type) that a different program is likely to answer differently."""
    kind = type(value)
    if kind is bool:
        return [not value]
    if kind is int:
        return [value + 1, value - 1, 0, -value]
    if kind is float:
        return [value * 2, -value, 0.0]
    if kind is str or kind is list or kind is tuple:
        return [value[::-1], value[1:], value[:-1], value + value[:1]]
    return []


def _probes(calls, limit):
    """Probe inputs: each recorded call with one argument replaced by a variant (marshalled), skipping
    the inputs the tests used; at most `limit`, in a fixed order."""
    import marshal

    seen = set(calls)
    probes = []
    for name, snapshot in calls:
        args, kwargs = marshal.loads(snapshot)
        for position, value in enumerate(args):
            for variant in _probe_variants(value):
                changed = (*args[:position], variant, *args[position + 1 :])
                key = (name, marshal.dumps((changed, kwargs)))
                if key not in seen:
                    seen.add(key)
                    probes.append(key)
                    if len(probes) >= limit:
                        return probes
    return probes


def prepare():
    """What every job needs and no program has touched yet: `plain`, `canon`, the pristine builtins and
    the modules the harness uses. A fork server builds it once, before its first fork, and hands it to
    each job as an argument (never a global: a program can reach this module's globals through
    `__main__`, not another frame's locals); the jobs then skip the imports, the copy of the builtins and
    building the closures, each of which costs a copy-on-write fault per page it touches."""
    import builtins
    import marshal
    import signal
    from time import process_time

    try:
        from _sha256 import sha256
    except ImportError:  # Python >= 3.12
        from _sha2 import sha256

    return (*_make_plain(), dict(builtins.__dict__), builtins, marshal, signal, process_time, sha256)


def run_job(payload, prepared=None):
    """Run one job in this process and exit. After the tests, writes the record
    `<nonce> pass|fail:tests:<exception> <digest of the tests' calls>` (one write), then calls the tested
    functions on probe inputs and writes `<nonce> probes <digest>`; a failure before the tests writes the
    untrusted diagnostic `fail:<phase>:<exception>`. `prepared`: `prepare()`'s result, made before any
    program ran (None: made here)."""
    plain, canon, pristine_builtins, builtins, marshal, signal, cpu_time, sha256 = prepared or prepare()
    nonce = payload["nonce"]
    result_fd = payload["result_fd"]
    probe_limit = payload.get("probes", 24)
    probe_budget_s = payload.get("probe_budget_s", 1.0)
    write, exit_now, run, name_of, text_type = os.write, os._exit, exec, type, str
    function_type, dumps, loads, set_timer = type(_probes), marshal.dumps, marshal.loads, signal.setitimer
    stdout, stderr = sys.__stdout__, sys.__stderr__
    tests_digest, probes_digest = sha256(), sha256()
    calls = []  # (function name, marshalled arguments) of the tests' calls, for the probes
    recorded_inputs = set()

    def fail(phase, error):
        write(result_fd, f"fail:{phase}:{name_of(error).__name__}".encode())
        stderr.write(f"{phase}: {name_of(error).__name__}: {error}\n"[:2000])
        stderr.flush()
        exit_now(1)

    def outcome(function, args, kwargs):
        """(the value to hand back, its canonical text); the function's exception propagates."""
        result = function(*args, **kwargs)
        try:
            value = plain(result)
        except _NotPlain:
            if name_of(result) is function_type:
                return guard("<returned function>", result, record=False), "function"
            raise TypeError(
                f"sandbox: the program returned a {name_of(result).__name__!s:.80}, not a plain value "
                "(int, float, str, bytes, None, or a list, tuple, dict or set of them)"
            ) from None
        return value, canon(value)

    def guard(name, function, record=True):
        """What the tests see instead of the program's function: results are checked and recorded."""

        def guarded(*args, **kwargs):
            if record:
                try:
                    snapshot = dumps((plain(args), plain(kwargs)))
                except (_NotPlain, ValueError, RecursionError, MemoryError):
                    snapshot = None
                if snapshot is not None and len(calls) < 256 and (name, snapshot) not in recorded_inputs:
                    recorded_inputs.add((name, snapshot))
                    calls.append((name, snapshot))
            try:
                value, text = outcome(function, args, kwargs)
            except BaseException as error:
                if record:
                    tests_digest.update(f"{name}\0raise:{name_of(error).__name__}\1".encode())
                raise
            if record:
                tests_digest.update(f"{name}\0{text}\1".encode("utf-8", "surrogatepass"))
            return value

        return guarded

    _apply_limits(payload["limits"])
    tests = compile(payload["tests"], "<tests>", "exec")
    try:
        program = compile(payload["program"], "<candidate>", "exec")
    except BaseException as error:
        fail("compile", error)
    exposed = _exposed_names(payload["tests"])
    payload.clear()
    del payload
    namespace = {"__name__": "__candidate__", "__builtins__": builtins}
    sys.addaudithook(_make_hook(os.getcwd()))
    try:
        run(program, namespace)
    except BaseException as error:
        fail("program", error)
    functions = {}
    test_namespace = {}
    for key, value in namespace.items():
        if name_of(key) is text_type and (key not in pristine_builtins or key in exposed):
            if name_of(value) is function_type:
                functions[key] = value
                value = guard(key, value)
            test_namespace[key] = value
    test_namespace["__builtins__"] = pristine_builtins
    test_namespace["__name__"] = "__tests__"
    status = "pass"
    tests_started = cpu_time()
    try:
        run(tests, test_namespace)
    except BaseException as error:
        status = f"fail:tests:{name_of(error).__name__}"
        stderr.write(f"tests: {name_of(error).__name__}: {error}\n"[:2000])
    try:
        stdout.flush()
        stderr.flush()
    except BaseException:
        pass
    write(result_fd, f"{nonce} {status} {tests_digest.hexdigest()}\n".encode())
    # Probes near the tests' inputs should cost about what the tests did: a CPU-time budget relative to
    # the tests' own CPU time keeps a probe that loops from costing probe_s on every program, and does not
    # depend on the machine's load (a wall-clock one cut honest programs short on a busy machine, and
    # renamed copies then differed). probe_s bounds the wall clock too (a probe that sleeps). The 50 ms
    # floor keeps honest programs away from the edge: with 10 ms, the 17 MBPP programs whose probes loop
    # cost 0.7 ms less per job on average, but one program's fingerprint changed between two runs on a
    # busy machine.
    probe_cpu_s = min(probe_budget_s, 0.05 + 4 * (cpu_time() - tests_started))

    def expire(*_):
        raise _ProbeTimeout

    # The probes: the tested functions on nearby inputs. They cannot change the verdict written above.
    try:
        signal.signal(signal.SIGALRM, expire)
        signal.signal(signal.SIGPROF, expire)
        set_timer(signal.ITIMER_REAL, probe_budget_s)
        set_timer(signal.ITIMER_PROF, probe_cpu_s)
        for name, snapshot in _probes(calls, probe_limit):
            args, kwargs = loads(snapshot)
            try:
                _, text = outcome(functions[name], args, kwargs)
            except _ProbeTimeout:
                raise
            except BaseException as error:
                text = f"raise:{name_of(error).__name__}"
            probes_digest.update(f"{name}\0{text}\1".encode("utf-8", "surrogatepass"))
        set_timer(signal.ITIMER_REAL, 0)
        set_timer(signal.ITIMER_PROF, 0)
        write(result_fd, f"{nonce} probes {probes_digest.hexdigest()}\n".encode())
    except BaseException:
        pass
    exit_now(0 if status == "pass" else 1)


def _stdin_to_devnull():
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)


def remove_tree(path):
    """Remove the directory tree at `path`; True when it is gone. Never raises.

    Total on whatever a program left behind: iterative (a tree 100,000 directories deep does not
    recurse), relative to directory descriptors (no path grows past PATH_MAX), never following a
    symbolic link, and making read-only directories writable first. The host (`runner`) imports it
    too, so that both sides clean up the same way.
    """
    import stat

    directory_flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode) or not stat.S_ISDIR(os.lstat(path).st_mode):
            os.unlink(path)
            return True
        parent = os.path.dirname(os.path.abspath(path)) or "/"
        name = os.path.basename(os.path.abspath(path))
        os.chmod(path, 0o700)
        fd = os.open(path, directory_flags)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    names = []  # the path from `path` down to the open directory `fd`
    try:
        while True:
            child = None
            with os.scandir(fd) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            child = entry.name
                            break
                        os.unlink(entry.name, dir_fd=fd)
                    except FileNotFoundError:
                        continue
            if child is not None:  # descend
                os.chmod(child, 0o700, dir_fd=fd)  # a directory, not a link (checked above)
                below = os.open(child, directory_flags, dir_fd=fd)
                os.close(fd)
                fd = below
                names.append(child)
                continue
            if not names:  # `fd` is `path` itself, now empty
                break
            above = os.open("..", directory_flags, dir_fd=fd)
            os.close(fd)
            fd = above
            os.rmdir(names.pop(), dir_fd=fd)
        os.close(fd)
        fd = None
        os.rmdir(os.path.join(parent, name))
        return True
    except OSError:
        return False
    finally:
        if fd is not None:
            _ignoring_os_errors(os.close, fd)


# ------------------------------------------------------------------------------------ fork server
# With the argument "serve", the harness is a fork server: it never runs untrusted code itself. It reads
# framed jobs (4-byte little-endian length + marshalled dict) on stdin, forks one child per job (which
# runs `run_job` in a fresh job directory, in its own process group, with stdin on /dev/null and
# stdout/stderr on capture files), enforces the wall-clock timeout, kills the child's group, removes
# the job directory, and answers with a framed marshalled dict on stdout.


def _read_exact(fd, size):
    chunks = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            return b""
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _wait_child(pid, timeout_s, watch=None):
    """Wait for `pid` at most `timeout_s`: "exited", "timeout", or "disk" when `watch` = (directory,
    bytes) is given and the directory grows past it (checked every 20 ms; plain mode's disk limit)."""
    import select
    import time

    deadline = time.monotonic() + timeout_s
    step = 0.02 if watch is not None else None
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout"
            wait = left if step is None else min(step, left)
            if pidfd is not None:
                ready, _, _ = select.select([pidfd], [], [], wait)
                if ready:
                    return "exited"
            else:  # no pidfd (Linux < 5.3): poll
                if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                    return "exited"
                time.sleep(min(wait, 0.001))
            if watch is not None and disk_usage_exceeds(*watch):
                return "disk"
    finally:
        if pidfd is not None:
            os.close(pidfd)


def disk_usage_exceeds(path, limit_bytes, max_entries=100_000):
    """True when the files under `path` take more than `limit_bytes` (or number more than
    `max_entries`); iterative, never raises."""
    total, entries, pending = 0, 0, [path]
    while pending:
        try:
            listing = os.scandir(pending.pop())
        except OSError:
            continue
        with listing:
            for entry in listing:
                entries += 1
                try:
                    info = entry.stat(follow_symlinks=False)
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                except OSError:
                    continue
                total += max(info.st_blocks * 512, 0)
                if total > limit_bytes or entries > max_entries:
                    return True
    return False


def _ignoring_os_errors(function, *args):
    try:
        return function(*args)
    except OSError:
        return None


def _serve_one(job, sweep, kill_all, prepared):
    import signal
    from time import monotonic

    # Unpredictable names, relative to the server's directory (as `nobody`, the folders above it may not
    # be traversable): a job cannot prepare a trap (a FIFO, a directory) at the next job's paths.
    token = os.urandom(16).hex()
    workdir = f"job-{token}"
    capture = [f".job-{token}.{name}" for name in ("out", "err")]
    os.mkdir(workdir, 0o700)
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    out, err = (os.open(path, flags, 0o600) for path in capture)
    read_fd, write_fd = os.pipe()
    start = monotonic()
    pid = os.fork()
    if pid == 0:  # the child: becomes the job
        try:
            os.setpgid(0, 0)
            os.chdir(workdir)
            home = os.getcwd()
            os.environ["HOME"] = os.environ["TMPDIR"] = home
            _stdin_to_devnull()
            os.dup2(out, 1)
            os.dup2(err, 2)
            os.dup2(write_fd, 3)
            os.closerange(4, 1 << 16)
            job["result_fd"] = 3
            run_job(job, prepared)
        finally:
            os._exit(70)
    os.close(write_fd)
    _ignoring_os_errors(os.setpgid, pid, pid)
    watch = None if kill_all else (workdir, job.get("disk_bytes", 64 << 20))  # bwrap: the tmpfs's size
    ending = _wait_child(pid, job["timeout_s"], watch)
    _ignoring_os_errors(os.killpg, pid, signal.SIGKILL)
    _ignoring_os_errors(os.kill, pid, signal.SIGKILL)  # in case it moved to another process group
    if kill_all and _in_private_pid_namespace():  # whatever the job started, wherever it went
        _ignoring_os_errors(os.kill, -1, signal.SIGKILL)
    _, status, usage = os.wait4(pid, 0)
    duration = monotonic() - start
    verdict = _read_available(read_fd)
    os.close(read_fd)
    limit = job["output_bytes"]
    answer = {
        "timed_out": ending == "timeout",
        "disk_exceeded": ending == "disk",
        "returncode": os.waitstatus_to_exitcode(status),
        "status": verdict,
        "duration_s": duration,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        # Read through the server's own descriptors: whatever the job did to the names, these are the
        # files the job's stdout and stderr went to (a file, never a FIFO put in their place).
        "stdout": _ignoring_os_errors(os.pread, out, limit, 0) or b"",
        "stderr": _ignoring_os_errors(os.pread, err, limit, 0) or b"",
    }
    for fd in (out, err):
        os.close(fd)
    for path in capture:
        _ignoring_os_errors(os.unlink, path)
    remove_tree(workdir)
    for directory in sweep:  # everything else the job could write: the next job starts from empty places
        _empty(directory)
    return answer


def _read_available(fd):
    os.set_blocking(fd, False)
    chunks = []
    try:
        while len(chunks) < 4:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            chunks.append(chunk)
    except BlockingIOError:
        pass
    return b"".join(chunks)


def _empty(directory):
    """Remove every entry of `directory` (never raises)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        remove_tree(os.path.join(directory, name))


def serve(sweep, kill_all, prepared):
    """Read framed jobs on stdin, one at a time; run each in its own forked child and answer it with its
    own frame. The parent may queue the next job before this one ends: it waits in the pipe, never in
    this process's memory, so no job's child inherits another job's nonce."""
    import marshal

    while True:
        header = _read_exact(0, 4)
        if not header:
            os._exit(0)
        job = marshal.loads(_read_exact(0, int.from_bytes(header, "little")))
        answer = _serve_one(job, sweep, kill_all, prepared)
        own = os.times()
        answer["server_cpu_s"] = own.user + own.system  # the server's own CPU so far (not its jobs')
        answer = marshal.dumps(answer)
        data = len(answer).to_bytes(4, "little") + answer
        while data:
            data = data[os.write(1, data) :]


_PRELOADED_MODULES = (
    "resource", "re", "math", "cmath", "collections", "itertools", "functools", "heapq", "bisect", "string",
    "operator", "typing", "copy", "array", "datetime", "json", "decimal", "fractions", "textwrap",
    "unicodedata", "struct", "time", "calendar", "enum", "dataclasses", "abc", "numbers", "sys",
)  # fmt: skip
"""Imported once by a fork server, before any job: every job forks from a server that has them, so the
MBPP/HumanEval programs' usual imports cost nothing. They are pristine (no program ever ran in the
server) and a job's changes to them die with the job's process. Left out on purpose: modules that
register fork handlers or map large libraries make EVERY job's fork dearer than their import in the few
jobs that use them (measured per job on this machine: `threading`, via `queue`, +0.7 ms; `random`, via
`statistics`, which reseeds in each child, +0.2 ms; `hashlib`'s OpenSSL, +3.6 MB to copy-on-write)."""


def _preload(names):
    import contextlib
    import importlib

    for name in names:
        with contextlib.suppress(Exception):  # a module this interpreter lacks is simply not preloaded
            importlib.import_module(name)


def _in_private_pid_namespace():
    """True when this process is the first child of its PID namespace's init (bwrap --unshare-pid) and
    not root: then every other process it can signal belongs to its own sandbox."""
    return os.getpid() == 2 and os.getppid() == 1 and os.geteuid() != 0 and os.getuid() != 0


def main():
    import marshal
    import types  # noqa: F401  (its import reads a traceback's tb_frame, which the hook forbids)

    if sys.argv[1:2] == ["serve"]:  # serve [bwrap]: under bubblewrap, also sweep /tmp and kill stragglers
        # kill(-1) after each job is only safe inside bubblewrap's own PID namespace, where this server is
        # process 2 under bwrap's init and not root: checked here, never taken from the argument alone
        # (as root on the host, kill(-1) would kill every process of the machine).
        isolated = sys.argv[2:3] == ["bwrap"] and _in_private_pid_namespace()
        try:
            from _sha256 import sha256
        except ImportError:
            from _sha2 import sha256  # noqa: F401
        import signal  # noqa: F401

        _preload(_PRELOADED_MODULES)
        import gc

        prepared = prepare()
        gc.freeze()  # a job's garbage collections skip the server's objects: no copy-on-write storm
        serve([".", "/tmp"] if isolated else ["."], isolated, prepared)
    payload = marshal.loads(sys.stdin.buffer.read())
    _stdin_to_devnull()
    run_job(payload)


if __name__ == "__main__":  # run with -c; importing this file does nothing
    main()
