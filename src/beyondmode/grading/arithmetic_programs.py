"""Reading a small arithmetic program without running it: the evaluable fragment of `code_sim`'s grammar.

A candidate is in the fragment when its text (after `extract_program`) is exactly one
`def f(<arguments>): return E`, E built only from the arguments, int literals, unary minus,
`+ - *`, `%` and `//` by a nonzero int literal, `min`/`max` of two or more operands, and conditionals
`A if L op R else B` with one comparison. Such a program is total, returns an int on every input and
cannot touch anything, so it is evaluated here, in-process, with Python's own int semantics; the result is
exactly what the sandbox would compute. Anything else (other statements, other names, `/`, `**`, a bool
result, text that does not parse) is `None`: the caller then runs it in the sandbox.

>>> program = parse_program("def f ( x ) : return x % 3 if x < 5 else min ( x , 2 )", ("x",))
>>> evaluate_program(program, [(1,), (4,), (7,)])
[1, 1, 2]
>>> parse_program("def f(x):\\n    import os\\n    return x", ("x",)) is None
True
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from beyondmode.grading.code import extract_program, parse_quietly

BINARY_OPS = ("+", "-", "*")
COMPARISONS: dict[str, Callable[[int, int], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_AST_COMPARISONS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_AST_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}
_MAX_NODES = 400
_MAX_CHARACTERS = 4000
_MAX_ABS_LITERAL = 10**9


@dataclass(frozen=True, slots=True)
class FragmentProgram:
    """A candidate in the evaluable fragment: its argument names and its returned expression."""

    variables: tuple[str, ...]
    expression: ast.expr


def parse_program(text: str, variables: Sequence[str] | int) -> FragmentProgram | None:
    """The candidate as a `FragmentProgram` when it is in the evaluable fragment, else None.

    `variables` are the argument names the def must have, or their number (then any distinct names).

    >>> parse_program("def f(a): return a + 1", 1).variables
    ('a',)
    >>> parse_program("def f(a): return a + 1", ("x",)) is None
    True
    """
    program = extract_program(text)
    if len(program) > _MAX_CHARACTERS:
        return None
    try:
        module = parse_quietly(program)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if len(module.body) != 1 or not isinstance(module.body[0], ast.FunctionDef):
        return None
    function = module.body[0]
    arguments = function.args
    if (
        function.name != "f"
        or function.decorator_list
        or function.returns is not None
        or arguments.posonlyargs
        or arguments.kwonlyargs
        or arguments.vararg
        or arguments.kwarg
        or arguments.defaults
        or not _names_fit([a.arg for a in arguments.args], variables)
        or any(a.annotation is not None for a in arguments.args)
        or len(function.body) != 1
        or not isinstance(function.body[0], ast.Return)
        or function.body[0].value is None
    ):
        return None
    expression = function.body[0].value
    names = tuple(a.arg for a in arguments.args)
    if sum(1 for _ in ast.walk(expression)) > _MAX_NODES or not _in_fragment(expression, set(names)):
        return None
    return FragmentProgram(names, expression)


def _names_fit(names: list[str], variables: Sequence[str] | int) -> bool:
    if isinstance(variables, int):
        return len(names) == variables and len(set(names)) == len(names)
    return names == list(variables)


def _in_fragment(node: ast.expr, variables: set[str]) -> bool:
    if isinstance(node, ast.Name):
        return node.id in variables
    if isinstance(node, ast.Constant):
        return type(node.value) is int and abs(node.value) <= _MAX_ABS_LITERAL
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.op, ast.USub) and _in_fragment(node.operand, variables)
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Mod | ast.FloorDiv):
            return _nonzero_literal(node.right) and _in_fragment(node.left, variables)
        return type(node.op) in _AST_BINARY and all(
            _in_fragment(n, variables) for n in (node.left, node.right)
        )
    if isinstance(node, ast.Call):
        return (
            isinstance(node.func, ast.Name)
            and node.func.id in ("min", "max")
            and len(node.args) >= 2
            and not node.keywords
            and all(_in_fragment(a, variables) for a in node.args)
        )
    if isinstance(node, ast.IfExp):
        test = node.test
        return (
            isinstance(test, ast.Compare)
            and len(test.ops) == 1
            and type(test.ops[0]) in _AST_COMPARISONS
            and all(
                _in_fragment(n, variables) for n in (test.left, test.comparators[0], node.body, node.orelse)
            )
        )
    return False


def _nonzero_literal(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Constant) and type(node.value) is int and 0 < node.value <= _MAX_ABS_LITERAL


def evaluate_program(program: FragmentProgram, inputs: Sequence[Sequence[int]]) -> list[int] | None:
    """The program's output on each input (None when a value grows past 10^300: left to the sandbox)."""
    outputs = []
    for point in inputs:
        value = _evaluate(program.expression, dict(zip(program.variables, point, strict=True)))
        if abs(value) > 10**300:
            return None
        outputs.append(value)
    return outputs


def _evaluate(node: ast.expr, env: dict[str, int]) -> int:
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp):
        return -_evaluate(node.operand, env)
    if isinstance(node, ast.BinOp):
        left = _evaluate(node.left, env)
        right = _evaluate(node.right, env)
        if isinstance(node.op, ast.Mod):
            return left % right
        if isinstance(node.op, ast.FloorDiv):
            return left // right
        return _AST_BINARY[type(node.op)](left, right)
    if isinstance(node, ast.Call):
        values = [_evaluate(a, env) for a in node.args]
        return min(values) if node.func.id == "min" else max(values)  # type: ignore[attr-defined]
    assert isinstance(node, ast.IfExp)
    test = node.test
    assert isinstance(test, ast.Compare)
    holds = COMPARISONS[_AST_COMPARISONS[type(test.ops[0])]](
        _evaluate(test.left, env), _evaluate(test.comparators[0], env)
    )
    return _evaluate(node.body if holds else node.orelse, env)
