"""Return-value mutants of a reference program: a check that the unit tests can tell a wrong program.

`mutate_returns` wraps every value that the entry point returns in a tuple, `return x` becomes
`return ("mutant", x)`: the function now returns a value that equals none of the values a test can
expect, so any test that compares the result fails. A mutant that still passes shows tests that never
look at the returned value (only its truthiness, or a side effect).

>>> print(mutate_returns("def f(x):\\n    return x + 1", "f"))
def f(x):
    return ('mutant', x + 1)
"""

from __future__ import annotations

import ast

from beyondmode.grading.code import parse_quietly


class _WrapReturns(ast.NodeTransformer):
    """Wraps returned values in the function body, not in nested functions, lambdas or classes."""

    def __init__(self) -> None:
        self.changed = 0

    def visit_Return(self, node: ast.Return) -> ast.Return:
        if node.value is None:
            return node
        self.changed += 1
        wrapped = ast.Tuple(elts=[ast.Constant("mutant"), node.value], ctx=ast.Load())
        return ast.copy_location(ast.Return(value=wrapped), node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        return node  # nested definitions keep their returns

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]
    visit_ClassDef = visit_FunctionDef  # type: ignore[assignment]
    visit_Lambda = visit_FunctionDef  # type: ignore[assignment]


def mutate_returns(program: str, entry_point: str) -> str | None:
    """The program with the top-level function `entry_point`'s returned values wrapped, or None when
    that function is missing or returns no value."""
    tree = parse_quietly(program)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == entry_point:
            wrapper = _WrapReturns()
            node.body = [wrapper.visit(statement) for statement in node.body]
            return ast.unparse(tree) if wrapper.changed else None
    return None
