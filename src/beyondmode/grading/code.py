"""The code grader: a candidate program hits when it passes all of the example's unit tests.

Gold for a code example is one element whose text is the test program (for instance the MBPP asserts, or
HumanEval's `check` function followed by `check(entry_point)`): `Example.gold == ((test_program,),)`.
The same string is verl's `ground_truth`. Tests run after the candidate, in a sandbox
(`beyondmode.sandbox`); they raise on failure.

Two candidates are the same answer (a duplicate) when they behave the same on the tests (DESIGN section
6; `CodeGrader.answer_key`): same outputs, or exceptions, on every test input and on probe inputs.
Programs that never finish the tests fall back to `canonical`, the normalized program (the AST dump
without comments, docstrings or whitespace; whitespace-normalized text where it does not parse).
Distinct programs that both pass are both hits (`exclusive_gold = False`).

>>> grader = CodeGrader()
>>> grader.canonical("def f(x):\\n    '''Double.'''\\n    return 2*x  # twice") == grader.canonical(
...     "def f(x): return 2 * x")
True
>>> grader.match("def f(x):\\n    return 2 * x", (("assert f(2) == 4",),))
0
"""

from __future__ import annotations

import ast
import re
import warnings
from collections import OrderedDict
from collections.abc import Sequence

from beyondmode.grading.base import Gold
from beyondmode.sandbox import Limits, Sandbox

_FENCED_BLOCK = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
_PARSE_ERRORS = (SyntaxError, ValueError, RecursionError, MemoryError)


def extract_program(candidate: str) -> str:
    """The program inside a candidate: the text itself, or the first ```python block of text that is
    not Python by itself (a model that writes a sentence before its code).

    >>> extract_program("Here it is:\\n```python\\nx = 1\\n```")
    'x = 1\\n'
    """
    text = candidate.replace("\r\n", "\n")
    if "```" not in text or _parses(text):
        return text
    match = _FENCED_BLOCK.search(text)
    return match.group(1) if match else text


def normalize_program(program: str) -> str:
    """A key equal for programs that differ only in comments, docstrings and whitespace.

    >>> normalize_program("x  =  1 # one") == normalize_program("x = 1")
    True
    >>> normalize_program("def (:")
    'text:def (:'
    """
    try:  # parsing and dumping both recurse: a deep expression (1+1+...+1) must not raise here
        tree = parse_quietly(program)
        _strip_docstrings(tree)
        return "ast:" + ast.dump(tree, include_attributes=False)
    except _PARSE_ERRORS:
        return "text:" + " ".join(program.split())


def parse_quietly(program: str) -> ast.Module:
    """`ast.parse` without the SyntaxWarnings (invalid escapes...) that untrusted code would log."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(program)


def _parses(text: str) -> bool:
    try:
        parse_quietly(text)
    except _PARSE_ERRORS:
        return False
    return True


def _is_string(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _strip_docstrings(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and _is_string(first.value):
                del node.body[0]


class CodeGrader:
    """Grades programs by running them against the gold test programs in a sandbox.

    `match(candidate, gold)` is the index of the first gold element one of whose test programs the
    candidate passes, or None. `answer_key(candidate, gold)` says which candidates are the same answer:
    programs that behave the same on the tests (DESIGN section 6), judged by the sandbox's behaviour
    fingerprint: what every call the tests made returned or raised (exact types and values), plus the
    same functions on probe inputs near the tests' own. A program that never finished the tests (it does
    not compile, raised while being defined, timed out) has no behaviour to compare: its key is its
    normalized text (`canonical`).

    Verdicts and fingerprints are memoised on (program, tests), so `match_many` / `match_pairs` can run a
    whole batch (K candidates x G generations) in parallel first, after which the per-candidate `match`
    and `answer_key` calls cost nothing. A sandbox failure (a fork server that died twice) is never
    memoised: the next call runs the program again.
    """

    name = "code"
    exclusive_gold = False
    """Every passing program is a hit (the gold element is "a correct program", a class of answers):
    coverage is any-hit, i.e. pass@K from one generation, and uniqueness only asks that the programs
    behave differently."""

    expected_by_behaviour = True
    """`grade_expected` reads a posterior over programs by behaviour class (`grading.behaviour`): the
    posterior's keys are programs, not spellings of test programs."""

    def __init__(self, sandbox: Sandbox | None = None, *, cache_size: int = 8192) -> None:
        self._sandbox = sandbox
        self._cache: OrderedDict[tuple[str, str], tuple[bool, str | None]] = OrderedDict()
        self._cache_size = cache_size

    @property
    def sandbox(self) -> Sandbox:
        """The sandbox in use (created on first use: 5 s per program, 2 workers with fork servers,
        bwrap when it runs here)."""
        if self._sandbox is None:
            self._sandbox = Sandbox(Limits(timeout_s=5.0), workers=2, fork_server=True)
        return self._sandbox

    def canonical(self, candidate: str) -> str:
        """The normalized program text: the key of programs without a behaviour to compare."""
        return normalize_program(extract_program(candidate))

    def answer_key(self, candidate: str, gold: Gold) -> str:
        """The key of "the same answer" for candidates of one example: their behaviour on `gold`'s tests.

        Renamed copies of one program share a key; programs whose outputs differ on a test input or on a
        probe input do not. Runs the program (or reads the memoised run).
        """
        program = extract_program(candidate)
        if not program.strip():
            return normalize_program(program)
        runs = self._runs([(program, tests) for aliases in gold for tests in aliases])
        fingerprints = [runs[(program, tests)][1] for aliases in gold for tests in aliases]
        if not fingerprints or any(fingerprint is None for fingerprint in fingerprints):
            return normalize_program(program)
        return "behaviour:" + "|".join(fingerprint or "" for fingerprint in fingerprints)

    def match(self, candidate: str, gold: Gold) -> int | None:
        return self.match_pairs([(candidate, gold)])[0]

    def match_many(self, candidates: Sequence[str], gold: Gold) -> list[int | None]:
        """`match` for many candidates of one example, run in parallel."""
        return self.match_pairs([(candidate, gold) for candidate in candidates])

    def match_pairs(self, pairs: Sequence[tuple[str, Gold]]) -> list[int | None]:
        """`match` for (candidate, gold) pairs of any examples, all run in parallel in one batch."""
        programs = [extract_program(candidate) for candidate, _ in pairs]
        runs = self._runs(
            [
                (program, tests)
                for program, (_, gold) in zip(programs, pairs, strict=True)
                if program.strip()
                for aliases in gold
                for tests in aliases
            ]
        )
        return [
            _first_passed(program, gold, runs) if program.strip() else None
            for program, (_, gold) in zip(programs, pairs, strict=True)
        ]

    def _runs(self, jobs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], tuple[bool, str | None]]:
        """(passed, fingerprint) of every (program, tests) job: memoised ones, the others run in one batch."""
        runs: dict[tuple[str, str], tuple[bool, str | None] | None] = {
            job: self._cache.get(job) for job in jobs
        }
        pending = [job for job, run in runs.items() if run is None]
        for job, result in zip(pending, self.sandbox.run_many(pending) if pending else [], strict=True):
            runs[job] = (result.passed, result.fingerprint)
            if not result.infrastructure_failure:
                self._remember(job, (result.passed, result.fingerprint))
        return runs  # type: ignore[return-value]

    def _remember(self, job: tuple[str, str], run: tuple[bool, str | None]) -> None:
        self._cache[job] = run
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def _first_passed(
    program: str, gold: Gold, runs: dict[tuple[str, str], tuple[bool, str | None]]
) -> int | None:
    for index, aliases in enumerate(gold):
        if any(runs[(program, tests)][0] for tests in aliases):
            return index
    return None


def prefetch_code_runs(scorer: object, items: Sequence[tuple[str, Gold]]) -> int:
    """Run every candidate program of many completions in one parallel batch before they are scored.

    `scorer` is a `beyondmode.scoring.Scorer` (duck-typed: its `answer_format.parse` and `grader`);
    `items` are (completion, gold) pairs. When the scorer's grader is a `CodeGrader`, the K programs of
    every completion go to the sandbox's pool together, so the `Scorer.score` calls that follow read
    memoised verdicts instead of running one program at a time. Returns the number of programs sent
    (0 for other graders).

    >>> prefetch_code_runs(object(), [])
    0
    """
    grader = getattr(scorer, "grader", None)
    if not isinstance(grader, CodeGrader) or not items:
        return 0
    parse = scorer.answer_format.parse  # type: ignore[attr-defined]
    pairs = [(text, gold) for completion, gold in items for text in parse(completion).texts]
    grader.match_pairs(pairs)
    return len(pairs)
