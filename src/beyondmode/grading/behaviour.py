"""Expected grades over programs: a candidate's probability is the posterior mass of its behaviour class.

A posterior over programs (code_sim's) is keyed by one representative program per behaviour class on the
hidden inputs. The gold is the hidden test program, `assert f(ARGS) == VALUE` per hidden input. A
candidate's expected grade is the posterior of the class that behaves as it does on those inputs:

    y_i = P(class of candidate i | visible examples),   0 when it behaves as no class

with behavioural sameness: a candidate that behaves as a higher-ranked one (or has the same canonical
text) is a duplicate, scored 0, and the set is not distinct. Label grading runs the candidate against the
gold's asserts; these grades need no label at all, so they do not depend on which program was drawn.

How a candidate's class is found:

- in the evaluable fragment (`arithmetic_programs`): evaluated in-process, with Python's int semantics;
- anything else: in the sandbox, one job "my outputs are one of the classes' outputs", then one job per
  bit of the class's index, 1 + ceil(log2 classes) jobs per candidate, all in one batch;
- text that does not parse, raises or times out matches no class: 0, never an exception.

>>> from beyondmode.grading import get_grader
>>> posterior = {"def f ( x ) : return x": 0.75, "def f ( x ) : return 1": 0.25}
>>> gold = (("assert f ( 1 ) == 1\\nassert f ( 2 ) == 2\\n",),)
>>> texts = ["def f(a): return 1 * a", "def f ( x ) : return 1", "def f(x): return x + 0"]
>>> grade_behaviours(texts, posterior, gold, get_grader("code")).hits
(0.75, 0.25, 0.0)
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from typing import Protocol

from beyondmode.grading.arithmetic_programs import evaluate_program, parse_program
from beyondmode.grading.base import Gold, Grades


class _PairMatcher(Protocol):
    def canonical(self, candidate: str) -> str: ...

    def match_pairs(self, pairs: Sequence[tuple[str, Gold]]) -> list[int | None]: ...


Behaviour = tuple[int, ...]


def hidden_inputs(gold: Gold) -> list[tuple[int, ...]]:
    """The inputs of the hidden tests: the ARGS of each `assert f(ARGS) == VALUE` in the gold program.

    >>> hidden_inputs((("assert f ( 1 , -2 ) == 3\\nassert f(0, 4) == 1\\n",),))
    [(1, -2), (0, 4)]
    """
    if len(gold) != 1 or len(gold[0]) != 1:
        raise ValueError(
            f"expected grades over programs need one hidden test program as the gold, got {len(gold)} "
            "gold elements"
        )
    try:
        module = ast.parse(gold[0][0])
    except SyntaxError as error:
        raise ValueError(f"the hidden test program does not parse: {error}") from error
    inputs = []
    for statement in module.body:
        call = _asserted_call(statement)
        if call is None:
            raise ValueError(
                "expected grades over programs need hidden tests written as `assert f(INTS) == VALUE`, "
                f"got {ast.unparse(statement)!r}"
            )
        inputs.append(call)
    if not inputs:
        raise ValueError("the hidden test program has no asserts")
    return inputs


def _asserted_call(statement: ast.stmt) -> tuple[int, ...] | None:
    if not isinstance(statement, ast.Assert) or not isinstance(statement.test, ast.Compare):
        return None
    compare = statement.test
    call = compare.left
    if len(compare.ops) != 1 or not isinstance(compare.ops[0], ast.Eq) or not isinstance(call, ast.Call):
        return None
    if not isinstance(call.func, ast.Name) or call.func.id != "f" or call.keywords:
        return None
    try:
        values = tuple(ast.literal_eval(argument) for argument in call.args)
    except ValueError:
        return None
    return values if all(type(v) is int for v in values) else None


def grade_behaviours(
    texts: Sequence[str],
    posterior: Mapping[str, float],
    gold: Gold,
    grader: _PairMatcher,
    order: Sequence[int] | None = None,
) -> Grades:
    """Grades (slot order) by the posterior mass of each candidate's behaviour class on the gold's
    inputs; `matched` is the class's representative. Duplicates are resolved in `order` (default: slot
    order), as in `grade_labels`. Raises ValueError when the gold is not `assert f(INTS) == VALUE`
    lines or a posterior key is not a program of the evaluable fragment."""
    order = range(len(texts)) if order is None else order
    if sorted(order) != list(range(len(texts))):
        raise ValueError(
            f"order must be a permutation of the {len(texts)} candidate indices, got {list(order)}"
        )
    inputs = hidden_inputs(gold)
    arity = len(inputs[0])
    classes: dict[Behaviour, str] = {}
    for program in posterior:
        outputs = _fragment_outputs(program, arity, inputs)
        if outputs is None:
            raise ValueError(f"posterior key {program!r} is not a program of the evaluable fragment")
        classes[outputs] = program
    behaviours: list[Behaviour | None] = [_fragment_outputs(text, arity, inputs) for text in texts]
    _sandbox_behaviours(texts, behaviours, list(classes), inputs, grader)
    seen_keys: set[str] = set()
    seen_behaviours: set[Behaviour] = set()
    hits = [0.0] * len(texts)
    matched: list[str | None] = [None] * len(texts)
    distinct = True
    for position in order:
        key = grader.canonical(texts[position])
        behaviour = behaviours[position]
        if key in seen_keys or (behaviour is not None and behaviour in seen_behaviours):
            distinct = False
            continue
        seen_keys.add(key)
        if behaviour is None:
            continue
        seen_behaviours.add(behaviour)
        program = classes.get(behaviour)
        if program is not None:
            hits[position] = float(posterior[program])
            matched[position] = program
    return Grades(tuple(hits), tuple(matched), distinct, 1)


def _fragment_outputs(text: str, arity: int, inputs: Sequence[tuple[int, ...]]) -> Behaviour | None:
    parsed = parse_program(text, arity)
    outputs = evaluate_program(parsed, inputs) if parsed is not None else None
    return tuple(outputs) if outputs is not None else None


def _sandbox_behaviours(
    texts: Sequence[str],
    behaviours: list[Behaviour | None],
    outputs: list[Behaviour],
    inputs: Sequence[tuple[int, ...]],
    grader: _PairMatcher,
) -> None:
    """Fill in, through the sandbox, the class of each candidate the fragment could not read (None stays
    None for a program in no class)."""
    pending = [i for i, behaviour in enumerate(behaviours) if behaviour is None]
    if not pending or not outputs:
        return
    call = "(" + ", ".join(f"f({', '.join(str(v) for v in point)})" for point in inputs) + ",)"
    table = repr(tuple(outputs))
    verdicts = _passes(grader, [(texts[i], f"assert {call} in {table}\n") for i in pending])
    members = [i for i, verdict in zip(pending, verdicts, strict=True) if verdict]
    bits = max(1, (len(outputs) - 1).bit_length())
    jobs = [
        (texts[i], f"assert ({table}.index({call}) >> {bit}) & 1\n") for i in members for bit in range(bits)
    ]
    answers = _passes(grader, jobs)
    for position, i in enumerate(members):
        index = sum(1 << bit for bit in range(bits) if answers[position * bits + bit])
        if index < len(outputs):  # else the program answered inconsistently between runs: no class
            behaviours[i] = outputs[index]


def _passes(grader: _PairMatcher, jobs: list[tuple[str, str]]) -> list[bool]:
    """Whether each (program, test program) passes, all in one sandbox batch."""
    verdicts = grader.match_pairs([(program, ((tests,),)) for program, tests in jobs])
    return [verdict is not None for verdict in verdicts]
