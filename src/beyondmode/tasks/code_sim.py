"""`code_sim`: program synthesis from a few input/output examples, with the exact posterior over behaviours.

A case: a function f is drawn from a prior over the programs of a small grammar
(`beyondmode.tasks.code_sim_grammar`; shorter is likelier), `num_tests` distinct inputs are drawn from the
input domain, and the model sees f's outputs on the first `num_visible` of them. The gold is the hidden
test program (asserts on all `num_tests` inputs, the visible ones included), graded by the real code
grader and sandbox, as MBPP is. Several programs fit what the model sees, so the task has genuine
uncertainty, and it knows it exactly: candidate programs that behave the same on the hidden inputs are one
answer (a behaviour class), and

    P(class b | visible examples) = sum of P(c) over domain classes c that behave as b on the hidden
                                    inputs and agree with the visible outputs, normalized.

`posterior` maps one representative program text per class (its shortest program) to that probability.
One raw row (`beyondmode data code_sim`, system message shortened):

    {"id": "code_sim-0-000000",
     "prompt": [{"role": "system", "content": "Write distinct Python functions f ..."},
                {"role": "user", "content": "f(7) = 1\\nf(2) = 2\\nf(0) = 0\\nWrite f."}],
     "gold": [["assert f ( 7 ) == 1\\nassert f ( 2 ) == 2\\n ... assert f ( 5 ) == 2"]],
     "grader": "code",
     "posterior": "{\\"def f ( x ) : return x % 3\\": 0.62, \\"def f ( x ) : return min ( x , 2 ) ...\\": ...}",
     "metadata": "{\\"program\\": \\"def f ( x ) : return x % 3\\", \\"inputs\\": [[7], [2], ...], ...}"}

Programs are written with spaces between tokens (`def f ( x ) : return x + 1`), which is valid Python and
one word-level token per grammar symbol for the tiny model.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import count as count_from
from itertools import islice
from typing import ClassVar

import numpy as np

from beyondmode.formats import AnswerFormat
from beyondmode.tasks.base import build_prompt
from beyondmode.tasks.code_sim_grammar import GrammarConfig, ProgramSpace, program_space
from beyondmode.types import Example

logger = logging.getLogger(__name__)

PROMPT_STYLES = ("full", "compact")
PRIORS = ("functions", "programs")
_MAX_DRAWS_PER_EXAMPLE = 20
"""Held-out cases give up after this many draws per example (every prompt excluded)."""


@dataclass(frozen=True, slots=True)
class CasePosterior:
    """The exact posterior of one case over behaviour classes on the hidden inputs, likeliest first.

    `programs[i]` is class i's representative text, `probabilities[i]` its posterior, `outputs[i]` its
    outputs on the hidden inputs; `truth` is the index of the true program's class.
    """

    programs: tuple[str, ...]
    probabilities: tuple[float, ...]
    outputs: tuple[tuple[int, ...], ...]
    truth: int

    def as_mapping(self) -> dict[str, float]:
        return dict(zip(self.programs, self.probabilities, strict=True))


def case_posterior(
    space: ProgramSpace, prior: np.ndarray, tests: Sequence[int], num_visible: int, truth: int
) -> CasePosterior:
    """The posterior over hidden-behaviour classes given the truth's outputs on the visible inputs.

    `tests` are domain indices of the hidden inputs (the first `num_visible` are shown), `prior` is
    P(domain class), `truth` the true domain class. A class's representative is the shortest program among
    its domain classes (ties: the likeliest, then the first enumerated).
    """
    tests = np.asarray(tests, dtype=np.int64)
    visible = tests[:num_visible]
    members = np.flatnonzero((space.classes[:, visible] == space.classes[truth, visible]).all(axis=1))
    hidden = np.ascontiguousarray(space.classes[members][:, tests])
    keys = hidden.view(np.dtype((np.void, hidden.dtype.itemsize * hidden.shape[1]))).reshape(-1)
    _, inverse = np.unique(keys, return_inverse=True)
    inverse = inverse.reshape(-1)
    mass = np.bincount(inverse, weights=prior[members])
    probabilities = mass / mass.sum()
    # representative per class: smallest first_size, then largest prior, then smallest id
    order = np.lexsort((members, -prior[members], space.first_size[members], inverse))
    first_of_class = order[np.r_[True, inverse[order][1:] != inverse[order][:-1]]]
    ranked = sorted(range(len(mass)), key=lambda b: (-probabilities[b], int(members[first_of_class[b]])))
    truth_class = int(inverse[np.searchsorted(members, truth)])
    return CasePosterior(
        programs=tuple(space.representative(int(members[first_of_class[b]])) for b in ranked),
        probabilities=tuple(float(probabilities[b]) for b in ranked),
        outputs=tuple(tuple(int(v) for v in hidden[first_of_class[b]]) for b in ranked),
        truth=ranked.index(truth_class),
    )


@dataclass(frozen=True)
class CodeSimTask:
    """Simulated program-synthesis cases with the exact posterior over behaviours on the hidden tests.

    Options: `num_examples`, `seed`; the grammar (`num_args` 1 or 2, `max_size`, `input_low`..
    `input_high` for each argument; constants 0-3, divisors 2 and 3, comparisons `<` and `==`); the prior
    (`prior` "functions": each function once, P proportional to size_decay^(size of its shortest program);
    "programs": every syntax tree, P proportional to size_decay^size); `num_tests` hidden inputs per case,
    the first `num_visible` shown; `prompt_style` ("full": English instructions; "compact": a one-line
    system prompt and `f ( 3 ) = 4 ; ...`, for tiny models). The first n examples are the same whatever
    `num_examples`. `exclude_seed` / `exclude_examples`: skip every case whose visible examples (as a set,
    hence its prompt up to order) equal those of one of the first `exclude_examples` cases of seed
    `exclude_seed` (held-out cases disjoint from the training prompts).
    """

    num_examples: int = 1000
    seed: int = 0
    num_args: int = 1
    max_size: int = 5
    input_low: int = 0
    input_high: int = 9
    prior: str = "functions"
    size_decay: float = 0.5
    num_tests: int = 6
    num_visible: int = 3
    prompt_style: str = "full"
    exclude_seed: int | None = None
    exclude_examples: int = 0

    name: ClassVar[str] = "code_sim"
    grader: ClassVar[str] = "code"
    multi_gold: ClassVar[bool] = False  # one truth; distinct passing programs are one behaviour class

    def __post_init__(self) -> None:
        grammar = self.grammar  # validates the grammar options
        if self.num_examples < 0:
            raise ValueError(f"code_sim option num_examples must be >= 0, got {self.num_examples}")
        if self.prior not in PRIORS:
            raise ValueError(f"code_sim option prior must be one of {PRIORS}, got {self.prior!r}")
        if not 0 < self.size_decay <= 1:
            raise ValueError(f"code_sim option size_decay must be in (0, 1], got {self.size_decay}")
        if not 1 <= self.num_tests <= len(grammar.domain):
            raise ValueError(
                f"code_sim option num_tests must be in 1..{len(grammar.domain)} (the input domain), "
                f"got {self.num_tests}"
            )
        if not 0 <= self.num_visible <= self.num_tests:
            raise ValueError(f"code_sim option num_visible must be in 0..num_tests, got {self.num_visible}")
        if self.exclude_examples < 0:
            raise ValueError(f"code_sim option exclude_examples must be >= 0, got {self.exclude_examples}")
        if self.prompt_style not in PROMPT_STYLES:
            raise ValueError(
                f"code_sim option prompt_style must be one of {PROMPT_STYLES}, got {self.prompt_style!r}"
            )

    @property
    def grammar(self) -> GrammarConfig:
        return GrammarConfig(
            num_args=self.num_args,
            max_size=self.max_size,
            input_low=self.input_low,
            input_high=self.input_high,
        )

    @property
    def task_sentence(self) -> str:
        arguments = ", ".join(self.grammar.variables)
        return (
            f"Write distinct Python functions f({arguments}) that agree with the examples; they are tested on "
            f"more inputs. Each answer is one line, def f({arguments}): return EXPRESSION, using integers, "
            "+ - *, % and // by a constant, min, max, and a conditional (A if B < C else D)."
        )

    def space(self) -> ProgramSpace:
        return program_space(self.grammar)

    def examples(self, answer_format: AnswerFormat) -> Iterator[Example]:
        space = self.space()
        prior = space.class_prior(self.size_decay, self.prior)
        domain = self.grammar.domain
        if self.prompt_style == "compact":
            system = compact_instructions(answer_format)
        else:
            system = answer_format.instructions(self.task_sentence)
        excluded: set[frozenset[tuple[int, int]]] = set()
        if self.exclude_seed is not None:
            cases = self._cases(space, prior, self.exclude_seed)
            excluded = {
                self._visible(space, truth, tests) for _, truth, tests in islice(cases, self.exclude_examples)
            }
        limit = _MAX_DRAWS_PER_EXAMPLE * self.num_examples + 1000
        count = 0
        for index, truth, tests in self._cases(space, prior, self.seed):
            if count == self.num_examples:
                return
            if index >= limit:
                raise ValueError(
                    f"code_sim: only {count} of num_examples={self.num_examples} cases have prompts outside "
                    f"the {self.exclude_examples} excluded cases of seed {self.exclude_seed} after {index} "
                    "draws: lower num_examples or exclude_examples, or show fewer examples (num_visible)"
                )
            if excluded and self._visible(space, truth, tests) in excluded:
                continue
            count += 1
            posterior = case_posterior(space, prior, tests, self.num_visible, truth)
            yield self._example(space, system, index, truth, [domain[t] for t in tests], posterior)

    def _cases(
        self, space: ProgramSpace, prior: np.ndarray, seed: int
    ) -> Iterator[tuple[int, int, np.ndarray]]:
        """(index, true domain class, hidden test inputs as domain indices) of every case of `seed`."""
        rng = np.random.default_rng(seed)
        domain_size = len(self.grammar.domain)
        for index in count_from(0):
            truth = int(rng.choice(space.num_classes, p=prior))
            yield index, truth, rng.choice(domain_size, size=self.num_tests, replace=False)

    def _visible(self, space: ProgramSpace, truth: int, tests: np.ndarray) -> frozenset[tuple[int, int]]:
        """The visible examples of a case as a set of (input index, output): its prompt up to order."""
        visible = tests[: self.num_visible]
        return frozenset(zip(visible.tolist(), space.classes[truth, visible].tolist(), strict=True))

    def _example(
        self,
        space: ProgramSpace,
        system: str,
        index: int,
        truth: int,
        inputs: list[tuple[int, ...]],
        posterior: CasePosterior,
    ) -> Example:
        outputs = posterior.outputs[posterior.truth]
        visible = list(zip(inputs[: self.num_visible], outputs[: self.num_visible], strict=True))
        program = space.representative(truth)
        metadata = {
            "program": program,
            "reference_answers": [program],
            "size": int(space.first_size[truth]),
            "inputs": [list(point) for point in inputs],
            "outputs": list(outputs),
            "num_visible": self.num_visible,
            "num_args": self.num_args,
            "num_classes": len(posterior.programs),
            "vocabulary": self.grammar.tokens(),
            "prior": self.prior,
            "seed": self.seed,
            "index": index,
        }
        return Example(
            id=f"{self.name}-{self.seed}-{index:06d}",
            prompt=build_prompt(system, render_examples(visible, self.prompt_style)),
            gold=((hidden_test_program(inputs, outputs),),),
            grader=self.grader,
            metadata=metadata,
            posterior=posterior.as_mapping(),
        )


def call_text(point: Sequence[int]) -> str:
    """`f ( 3 , 4 )`: a call written with spaced tokens."""
    return "f ( " + " , ".join(str(v) for v in point) + " )"


def hidden_test_program(inputs: Sequence[Sequence[int]], outputs: Sequence[int]) -> str:
    """The hidden tests as the asserts the code grader runs after the candidate.

    >>> print(hidden_test_program([(1,), (2,)], [3, 5]))
    assert f ( 1 ) == 3
    assert f ( 2 ) == 5
    <BLANKLINE>
    """
    return "".join(f"assert {call_text(p)} == {o}\n" for p, o in zip(inputs, outputs, strict=True))


def render_examples(visible: Sequence[tuple[Sequence[int], int]], prompt_style: str) -> str:
    """The user message: the visible examples.

    >>> render_examples([((3,), 4), ((0,), 1)], "compact")
    'f ( 3 ) = 4 ; f ( 0 ) = 1'
    >>> print(render_examples([((3, 1), 4)], "full"))
    f(3, 1) = 4
    Write f.
    """
    if prompt_style == "compact":
        return " ; ".join(f"{call_text(p)} = {o}" for p, o in visible)
    lines = [f"f({', '.join(str(v) for v in p)}) = {o}" for p, o in visible]
    return "\n".join([*lines, "Write f."])


def compact_instructions(answer_format: AnswerFormat) -> str:
    """The compact system prompt: K and whether confidences are asked for.

    >>> compact_instructions(AnswerFormat(num_candidates=3))
    'programs 3 with confidence'
    """
    confidence = "with confidence" if answer_format.with_confidence else "without confidence"
    return f"programs {answer_format.num_candidates} {confidence}"
