"""Sandboxed execution of untrusted programs against unit tests (stdlib only; see docs/sandbox.md).

>>> from beyondmode.sandbox import Limits, Sandbox
>>> Sandbox(Limits(timeout_s=5)).run("def f():\\n    return 1", "assert f() == 2").verdict
<Verdict.FAILED: 'failed'>
"""

from beyondmode.sandbox.isolation import Isolation, IsolationMode, resolve_isolation
from beyondmode.sandbox.limits import Limits
from beyondmode.sandbox.runner import (
    EXPOSE_PRAGMA,
    RunResult,
    Sandbox,
    Verdict,
    expose_line,
    harness_source,
    shadows_builtin,
)

__all__ = [
    "EXPOSE_PRAGMA",
    "Isolation",
    "IsolationMode",
    "Limits",
    "RunResult",
    "Sandbox",
    "Verdict",
    "expose_line",
    "harness_source",
    "resolve_isolation",
    "shadows_builtin",
]
