"""The program grammar of `code_sim`: every program up to a size, enumerated once per grammar, by behaviour.

A program is `def f(x): return E` (or `def f(x, y)`), E from the grammar

    E := x | y | c                                  (c in `constants`; size 1)
       | E + E | E - E | E * E | min(E, E) | max(E, E)   (size 1 + sizes of the operands)
       | E % d | E // d                             (d in `divisors`; size 1 + size of E)
       | E if E op E else E                         (op in `comparisons`; size 1 + sizes of the 4 parts)

Comparisons appear only as the condition of a conditional, so every program returns an int. The size of a
program is its number of grammar nodes (`x + 1` has size 3, `x % 2` size 2, `x if x < 2 else 1` size 5).

Enumeration is dynamic programming over behaviours, never over texts: the behaviour of a program is its
vector of outputs on every point of the input domain (`GrammarConfig.domain`), and the behaviour of
`E1 + E2` depends only on the behaviours of E1 and E2. So level s keeps, for each distinct behaviour of
size-s programs, how many size-s syntax trees have it (`Level.counts`, exact: products and sums of counts)
and one derivation of it (to render a representative text). `ProgramSpace.classes` merges the levels into
the domain classes (programs that agree on every input of the domain can never be told apart by any
test drawn from it), each with its per-size counts, so a prior over programs becomes a prior over classes
without listing a single program. `program_space(config)` caches the result per grammar.

>>> space = program_space(GrammarConfig(max_size=3, constants=(1,), divisors=(2,)))
>>> space.num_programs, space.num_classes
(34, 15)
>>> space.representative(space.class_of_text("def f ( x ) : return 1 + x"))
'def f ( x ) : return x + 1'
"""

from __future__ import annotations

import functools
import itertools
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from beyondmode.grading.arithmetic_programs import BINARY_OPS, COMPARISONS, evaluate_program, parse_program

logger = logging.getLogger(__name__)

VARIABLES = ("x", "y")
_MAX_ABS_VALUE = 2**40
"""Behaviour values above this raise: int64 products of two would overflow."""
_BLOCK_ROWS = 1 << 20
"""Candidate behaviours combined and deduplicated per block (memory stays bounded)."""

# A derivation: (kind, arguments). kind "var"/"const": (index,) / (value,); "binary": (op, s1, i1, s2, i2);
# "unary": (op, divisor, s, i); "cond": (op, sl, il, sr, ir, sa, ia, sb, ib); (s, i) = row i of level s.
Derivation = tuple


@dataclass(frozen=True, slots=True)
class GrammarConfig:
    """A grammar and its input domain: `num_args` (1: `f(x)`, 2: `f(x, y)`), integer `constants`, the
    `divisors` of `%` and `//`, the `comparisons` of conditionals, inputs `input_low`..`input_high`
    (inclusive, each argument), programs up to `max_size` nodes."""

    num_args: int = 1
    constants: tuple[int, ...] = (0, 1, 2, 3)
    divisors: tuple[int, ...] = (2, 3)
    comparisons: tuple[str, ...] = ("<", "==")
    input_low: int = 0
    input_high: int = 9
    max_size: int = 6

    def __post_init__(self) -> None:
        if self.num_args not in (1, 2):
            raise ValueError(f"code_sim grammar: num_args must be 1 or 2, got {self.num_args}")
        if not 1 <= self.max_size <= 9:
            raise ValueError(f"code_sim grammar: max_size must be in 1..9, got {self.max_size}")
        if any(d <= 0 for d in self.divisors):
            raise ValueError(f"code_sim grammar: divisors must be positive, got {self.divisors}")
        unknown = [op for op in self.comparisons if op not in COMPARISONS]
        if unknown:
            raise ValueError(f"code_sim grammar: unknown comparisons {unknown}; known: {sorted(COMPARISONS)}")
        if self.input_high < self.input_low:
            raise ValueError(f"code_sim grammar: input_high {self.input_high} < input_low {self.input_low}")

    @property
    def variables(self) -> tuple[str, ...]:
        return VARIABLES[: self.num_args]

    @property
    def domain(self) -> list[tuple[int, ...]]:
        """Every input of the domain, in a fixed order (the columns of a behaviour)."""
        values = range(self.input_low, self.input_high + 1)
        return list(itertools.product(values, repeat=self.num_args))

    @property
    def signature(self) -> str:
        return "def f ( " + " , ".join(self.variables) + " ) :"

    def tokens(self) -> list[str]:
        """Every token a program of this grammar is written with (the tiny model's program vocabulary)."""
        words = ["def", "f", "(", ")", ",", ":", "return", *self.variables, *BINARY_OPS]
        words += ["min", "max", "%", "//", "if", "else", *self.comparisons]
        words += [str(c) for c in (*self.constants, *self.divisors)]
        return list(dict.fromkeys(words))


@dataclass(slots=True)
class Level:
    """The distinct behaviours of programs of one size: `values` (n, domain), `counts` (how many syntax
    trees of this size have each), `derivations` (one per behaviour), `class_ids` (row -> domain class)."""

    values: np.ndarray
    counts: np.ndarray
    derivations: list[Derivation]
    class_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def num_programs(self) -> float:
        return float(self.counts.sum())


@dataclass(slots=True)
class ProgramSpace:
    """Every program of a grammar up to its maximum size, grouped into domain classes.

    `classes` (n_classes, domain) are the distinct behaviours over all sizes; `size_counts[c, s]` is how
    many programs of size s behave as class c; the representative of a class is its first derivation at
    its smallest size (`representative`). `seconds` is how long the enumeration took.
    """

    config: GrammarConfig
    levels: dict[int, Level]
    classes: np.ndarray
    size_counts: np.ndarray
    first_size: np.ndarray
    first_row: np.ndarray
    conditions: dict[int, Level]
    seconds: float
    _priors: dict[tuple[float, str], np.ndarray] = field(default_factory=dict)
    _index: dict[tuple[int, ...], int] | None = None

    @property
    def num_programs(self) -> int:
        return round(float(self.size_counts.sum()))

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def programs_per_size(self) -> np.ndarray:
        """N_s, the number of programs of each size s (index 0 unused)."""
        return self.size_counts.sum(axis=0)

    def class_prior(self, size_decay: float, prior: str = "functions") -> np.ndarray:
        """P(class) under a prior where shorter is likelier.

        "functions" (the default; each domain class counted once, its length the size of its shortest
        program): P(c) = size_decay^min_size(c) / Z. "programs" (every syntax tree counted, so a behaviour
        written many ways gains mass): P(program) = size_decay^size / Z, P(c) = sum_s size_counts[c, s] *
        size_decay^s / Z.

        >>> space = program_space(GrammarConfig(max_size=2, constants=(1,), divisors=(2,)))
        >>> round(float(space.class_prior(0.5, "programs").sum()), 12)
        1.0
        """
        key = (float(size_decay), prior)
        if key not in self._priors:
            if prior == "functions":
                weights = self._size_weights(size_decay)[self.first_size]
            elif prior == "programs":
                weights = self.size_counts @ self._size_weights(size_decay)
            else:
                raise ValueError(f"code_sim: prior must be 'functions' or 'programs', got {prior!r}")
            self._priors[key] = weights / weights.sum()
        return self._priors[key]

    def _size_weights(self, size_decay: float) -> np.ndarray:
        if not size_decay > 0:
            raise ValueError(f"code_sim: size_decay must be > 0, got {size_decay}")
        return float(size_decay) ** np.arange(self.config.max_size + 1, dtype=float)

    def sample_classes(
        self, rng: np.random.Generator, size_decay: float, count: int, prior: str = "functions"
    ) -> np.ndarray:
        """Class ids of `count` programs drawn from the prior (a domain class with P(class))."""
        return rng.choice(self.num_classes, size=count, p=self.class_prior(size_decay, prior))

    def representative(self, class_id: int) -> str:
        """The program text of a class's first derivation at its smallest size (spaced tokens)."""
        body = self.render(int(self.first_size[class_id]), int(self.first_row[class_id]))
        return f"{self.config.signature} return {body}"

    def render(self, size: int, row: int) -> str:
        return _render(self, self.levels[size].derivations[row])[0]

    def class_of_text(self, text: str) -> int | None:
        """The domain class of a program text that parses in the grammar's evaluable fragment (None when it
        does not parse or behaves like no enumerated program)."""
        program = parse_program(text, self.config.variables)
        if program is None:
            return None
        outputs = evaluate_program(program, self.config.domain)
        if outputs is None:
            return None
        if self._index is None:
            self._index = {tuple(int(v) for v in row): i for i, row in enumerate(self.classes)}
        return self._index.get(tuple(outputs))


def program_space(config: GrammarConfig) -> ProgramSpace:
    """The enumerated space of `config`, computed once per process (logged with its time and sizes)."""
    return _cached_space(config)


@functools.lru_cache(maxsize=8)
def _cached_space(config: GrammarConfig) -> ProgramSpace:
    start = time.perf_counter()
    domain = np.array(config.domain, dtype=np.int64)  # (D, num_args)
    levels: dict[int, Level] = {}
    conditions: dict[int, Level] = {}
    for size in range(1, config.max_size + 1):
        levels[size] = _level(config, size, domain, levels, conditions)
        if size + 1 <= config.max_size:
            conditions[size + 1] = _condition_level(config, size + 1, levels)
    space = _merge(config, levels, conditions, time.perf_counter() - start)
    logger.info(
        "code_sim grammar %s: %d programs, %d domain classes, enumerated in %.2f s",
        config,
        space.num_programs,
        space.num_classes,
        space.seconds,
    )
    return space


Block = tuple[np.ndarray, np.ndarray, Callable[[int], Derivation]]
"""Candidate behaviours (rows), their counts, and the derivation of row i (built only for survivors)."""


def _level(
    config: GrammarConfig,
    size: int,
    domain: np.ndarray,
    levels: dict[int, Level],
    conditions: dict[int, Level],
) -> Level:
    blocks: list[Block] = []
    if size == 1:
        derivations = [("var", i) for i in range(config.num_args)] + [("const", c) for c in config.constants]
        values = [domain[:, i] for i in range(config.num_args)]
        values += [np.full(len(domain), c, dtype=np.int64) for c in config.constants]
        blocks.append((np.stack(values), np.ones(len(values)), derivations.__getitem__))
    if size - 1 in levels:
        child = levels[size - 1]
        for op, divisor in itertools.product(("%", "//"), config.divisors):
            function = np.mod if op == "%" else np.floor_divide
            derive = functools.partial(_unary_derivation, op, divisor, size - 1)
            blocks.append((function(child.values, divisor), child.counts, derive))
    for left in range(1, size - 1):
        right = size - 1 - left
        for op in (*BINARY_OPS, "min", "max"):
            blocks.extend(_pairs("binary", op, (left, right), levels[left], levels[right]))
    for condition_size in sorted(conditions):
        for then_size in range(1, size - condition_size - 1):
            else_size = size - 1 - condition_size - then_size
            parts = (conditions[condition_size], levels[then_size], levels[else_size])
            blocks.extend(_conditionals((condition_size, then_size, else_size), *parts))
    return _dedupe(blocks)


def _condition_level(config: GrammarConfig, size: int, levels: dict[int, Level]) -> Level:
    """Conditions `l op r` with size(l) + size(r) = size: distinct boolean behaviours (as 0/1) and counts."""
    blocks: list[Block] = []
    for left in range(1, size):
        for op in config.comparisons:
            blocks.extend(_pairs("compare", op, (left, size - left), levels[left], levels[size - left]))
    return _dedupe(blocks)


def _unary_derivation(op: str, divisor: int, child_size: int, row: int) -> Derivation:
    return ("unary", op, divisor, child_size, row)


def _pairs(kind: str, op: str, sizes: tuple[int, int], left: Level, right: Level) -> Iterator[Block]:
    step = max(1, _BLOCK_ROWS // max(1, len(right.counts)))
    for start in range(0, len(left.counts), step):
        a = left.values[start : start + step, None, :]
        values = _apply(op, a, right.values[None, :, :]).reshape(-1, left.values.shape[1])
        counts = np.outer(left.counts[start : start + step], right.counts).reshape(-1)
        shape = (a.shape[0], len(right.counts))

        def derive(row: int, start: int = start, shape: tuple[int, int] = shape) -> Derivation:
            i, j = np.unravel_index(row, shape)
            return (kind, op, sizes[0], int(i) + start, sizes[1], int(j))

        yield values, counts, derive


def _conditionals(
    sizes: tuple[int, int, int], condition: Level, then: Level, otherwise: Level
) -> Iterator[Block]:
    step = max(1, _BLOCK_ROWS // max(1, len(then.counts) * len(otherwise.counts)))
    for start in range(0, len(condition.counts), step):
        test = condition.values[start : start + step, None, None, :].astype(bool)
        values = np.where(test, then.values[None, :, None, :], otherwise.values[None, None, :, :])
        values = values.reshape(-1, condition.values.shape[1])
        counts = np.multiply.outer(
            np.multiply.outer(condition.counts[start : start + step], then.counts), otherwise.counts
        ).reshape(-1)
        shape = (test.shape[0], len(then.counts), len(otherwise.counts))

        def derive(row: int, start: int = start, shape: tuple[int, int, int] = shape) -> Derivation:
            c, t, e = (int(i) for i in np.unravel_index(row, shape))
            return ("cond", sizes[0], c + start, sizes[1], t, sizes[2], e)

        yield values, counts, derive


_NUMPY_OPS = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "min": np.minimum,
    "max": np.maximum,
    "<": np.less,
    "<=": np.less_equal,
    "==": np.equal,
    "!=": np.not_equal,
}


def _apply(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    result = _NUMPY_OPS[op](a, b)
    if result.dtype == bool:
        return result.astype(np.int64)
    if np.abs(result).max(initial=0) > _MAX_ABS_VALUE:
        raise ValueError("code_sim grammar: values too large for int64 (lower max_size or the input range)")
    return result


def _dedupe(blocks: list[Block]) -> Level:
    """Distinct behaviours over the blocks, counts summed, the first derivation (in block order) kept."""
    uniques, counts, firsts = [], [], []
    for values, block_counts, derive in blocks:
        if not len(values):
            continue
        rows, first, inverse = _unique_rows(values)
        uniques.append(rows)
        counts.append(np.bincount(inverse, weights=block_counts, minlength=len(rows)))
        firsts.extend((derive, int(i)) for i in first)
    if not uniques:
        return Level(np.zeros((0, 0), dtype=np.int64), np.zeros(0), [])
    rows, first, inverse = _unique_rows(np.concatenate(uniques))
    total = np.bincount(inverse, weights=np.concatenate(counts), minlength=len(rows))
    derivations = [firsts[int(i)][0](firsts[int(i)][1]) for i in first]
    return Level(rows, total, derivations)


def _unique_rows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct rows (sorted by their bytes), the index of each one's first occurrence, and the inverse."""
    values = np.ascontiguousarray(values)
    keys = values.view(np.dtype((np.void, values.dtype.itemsize * values.shape[1]))).reshape(-1)
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return values[first], first, inverse.reshape(-1)


def _merge(
    config: GrammarConfig, levels: dict[int, Level], conditions: dict[int, Level], seconds: float
) -> ProgramSpace:
    """Domain classes over all sizes; the representative is the first derivation at the smallest size."""
    sizes = [s for s in sorted(levels) if len(levels[s].counts)]
    stacked = np.concatenate([levels[s].values for s in sizes])
    origin_size = np.concatenate([np.full(len(levels[s].counts), s) for s in sizes])
    origin_row = np.concatenate([np.arange(len(levels[s].counts)) for s in sizes])
    classes, first, inverse = _unique_rows(stacked)
    size_counts = np.zeros((len(classes), config.max_size + 1))
    offset = 0
    for s in sizes:
        level = levels[s]
        level.class_ids = inverse[offset : offset + len(level.counts)]
        size_counts[level.class_ids, s] = level.counts
        offset += len(level.counts)
    first_size, first_row = origin_size[first], origin_row[first]
    return ProgramSpace(config, levels, classes, size_counts, first_size, first_row, conditions, seconds)


# Precedence for rendering with the fewest parentheses Python needs: conditional 0, comparison 1,
# + - 2, * % // 3, atoms (names, constants, calls) 4.
_PRECEDENCE = {"+": 2, "-": 2, "*": 3, "%": 3, "//": 3}


def _render(space: ProgramSpace, derivation: Derivation) -> tuple[str, int]:
    kind = derivation[0]
    if kind == "var":
        return space.config.variables[derivation[1]], 4
    if kind == "const":
        return str(derivation[1]), 4
    if kind == "unary":
        _, op, divisor, size, row = derivation
        text, precedence = _child(space, size, row)
        return f"{_wrap(text, precedence < 3)} {op} {divisor}", 3
    if kind == "binary":
        _, op, left_size, left_row, right_size, right_row = derivation
        left, left_precedence = _child(space, left_size, left_row)
        right, right_precedence = _child(space, right_size, right_row)
        if op in ("min", "max"):
            return f"{op} ( {left} , {right} )", 4
        level = _PRECEDENCE[op]
        return f"{_wrap(left, left_precedence < level)} {op} {_wrap(right, right_precedence <= level)}", level
    _, condition_size, condition_row, then_size, then_row, else_size, else_row = derivation
    test = _render_condition(space, space.conditions[condition_size].derivations[condition_row])
    then, then_precedence = _child(space, then_size, then_row)
    otherwise, _ = _child(space, else_size, else_row)
    return f"{_wrap(then, then_precedence == 0)} if {test} else {otherwise}", 0


def _child(space: ProgramSpace, size: int, row: int) -> tuple[str, int]:
    return _render(space, space.levels[size].derivations[row])


def _render_condition(space: ProgramSpace, derivation: Derivation) -> str:
    _, op, left_size, left_row, right_size, right_row = derivation
    left, left_precedence = _child(space, left_size, left_row)
    right, right_precedence = _child(space, right_size, right_row)
    return f"{_wrap(left, left_precedence <= 1)} {op} {_wrap(right, right_precedence <= 1)}"


def _wrap(text: str, needed: bool) -> str:
    return f"( {text} )" if needed else text
