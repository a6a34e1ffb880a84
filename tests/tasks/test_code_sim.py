"""code_sim: enumeration and posterior against brute force and Monte Carlo; grading through the sandbox."""

from __future__ import annotations

import functools
import itertools
import json
import math
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from beyondmode.formats import AnswerFormat
from beyondmode.grading import get_grader, grade_expected, grade_labels, register_grader
from beyondmode.grading.arithmetic_programs import evaluate_program, parse_program
from beyondmode.grading.code import CodeGrader
from beyondmode.posterior import decode_posterior
from beyondmode.sandbox import Limits, Sandbox
from beyondmode.tasks.code_sim import CodeSimTask, case_posterior
from beyondmode.tasks.code_sim_grammar import GrammarConfig, program_space
from beyondmode.tasks.export import example_to_row, row_to_example, write_parquet
from beyondmode.tasks.registry import get_task

FORMAT = AnswerFormat(num_candidates=3)
SMALL = GrammarConfig(max_size=5, constants=(0, 2), divisors=(2,), input_high=5)
SMALL_2 = GrammarConfig(num_args=2, max_size=5, constants=(1,), divisors=(2,), input_high=3)


# ----------------------------------------------------------------------------- reference (the spec)
@functools.cache
def all_programs(config: GrammarConfig) -> dict[int, list[str]]:
    """Every expression text of each size, written independently of the enumerator (fully parenthesized)."""
    by_size: dict[int, list[str]] = defaultdict(list)
    by_size[1] = [*config.variables, *(str(c) for c in config.constants)]
    conditions: dict[int, list[str]] = defaultdict(list)
    for size in range(2, config.max_size + 1):
        for child in by_size[size - 1]:
            by_size[size] += [f"({child}) {op} {d}" for op in ("%", "//") for d in config.divisors]
        for left in range(1, size - 1):
            for a, b in itertools.product(by_size[left], by_size[size - 1 - left]):
                by_size[size] += [f"({a}) {op} ({b})" for op in "+-*"] + [f"min({a}, {b})", f"max({a}, {b})"]
        for c_size in range(2, size - 2):
            if not conditions[c_size]:
                for left in range(1, c_size):
                    for a, b in itertools.product(by_size[left], by_size[c_size - left]):
                        conditions[c_size] += [f"({a}) {op} ({b})" for op in config.comparisons]
            for then in range(1, size - c_size - 1):
                other = size - 1 - c_size - then
                for c, t, e in itertools.product(conditions[c_size], by_size[then], by_size[other]):
                    by_size[size].append(f"({t}) if ({c}) else ({e})")
    return by_size


@functools.cache
def brute_force_behaviours(config: GrammarConfig) -> list[tuple[int, tuple[int, ...]]]:
    """(size, behaviour on the domain) of every program, each run by Python itself."""
    result = []
    for size, texts in all_programs(config).items():
        for text in texts:
            function = eval(f"lambda {', '.join(config.variables)}: {text}")  # trusted, generated here
            result.append((size, tuple(function(*point) for point in config.domain)))
    return result


def reference_posterior(
    config: GrammarConfig, decay: float, prior: str, tests: list[int], num_visible: int, truth_outputs
) -> dict[tuple[int, ...], float]:
    """Brute force: every program run by Python itself, grouped by its outputs on the hidden inputs."""
    functions: dict[tuple[int, ...], int] = {}  # domain behaviour -> shortest size
    program_weight: dict[tuple[int, ...], float] = defaultdict(float)
    for size, behaviour in brute_force_behaviours(config):
        functions.setdefault(behaviour, size)
        program_weight[behaviour] += decay**size
    weights = {b: decay**s for b, s in functions.items()} if prior == "functions" else dict(program_weight)
    posterior: dict[tuple[int, ...], float] = defaultdict(float)
    for behaviour, weight in weights.items():
        hidden = tuple(behaviour[t] for t in tests)
        if hidden[:num_visible] == tuple(truth_outputs[:num_visible]):
            posterior[hidden] += weight
    total = sum(posterior.values())
    return {hidden: weight / total for hidden, weight in posterior.items()}


@pytest.mark.parametrize("config", [SMALL, SMALL_2], ids=["one_arg", "two_args"])
def test_enumeration_counts_and_classes_match_brute_force(config: GrammarConfig) -> None:
    programs = all_programs(config)
    space = program_space(config)
    assert [len(programs[s]) for s in range(1, config.max_size + 1)] == [
        round(n) for n in space.programs_per_size()[1:]
    ]
    behaviours = {behaviour for _, behaviour in brute_force_behaviours(config)}
    assert len(behaviours) == space.num_classes
    for class_id in range(space.num_classes):  # each representative renders, parses and behaves as its class
        parsed = parse_program(space.representative(class_id), config.variables)
        assert parsed is not None
        assert evaluate_program(parsed, config.domain) == list(space.classes[class_id])


@pytest.mark.parametrize("prior", ["functions", "programs"])
@pytest.mark.parametrize("config", [SMALL, SMALL_2], ids=["one_arg", "two_args"])
def test_case_posterior_matches_brute_force(config: GrammarConfig, prior: str) -> None:
    space = program_space(config)
    class_prior = space.class_prior(0.4, prior)
    rng = np.random.default_rng(3)
    for _ in range(15):
        truth = int(rng.choice(space.num_classes, p=class_prior))
        tests = [int(t) for t in rng.choice(len(config.domain), size=5, replace=False)]
        posterior = case_posterior(space, class_prior, tests, 2, truth)
        reference = reference_posterior(config, 0.4, prior, tests, 2, posterior.outputs[posterior.truth])
        assert dict(zip(posterior.outputs, posterior.probabilities, strict=True)) == pytest.approx(reference)
        assert list(posterior.probabilities) == sorted(posterior.probabilities, reverse=True)
        assert posterior.outputs[posterior.truth] == tuple(int(space.classes[truth, t]) for t in tests)


def test_posterior_matches_monte_carlo_frequencies() -> None:
    """Conditional on the visible outputs, the classes of prior samples consistent with them follow the
    posterior (chi-square); a posterior that ignores the prior (uniform over classes) is rejected."""
    task = CodeSimTask(max_size=4, input_high=5)
    space = task.space()
    prior = space.class_prior(task.size_decay, task.prior)
    tests = [1, 4, 0, 5, 2]
    truth = space.class_of_text("def f ( x ) : return x % 2")
    posterior = case_posterior(space, prior, tests, 2, truth)
    assert len(posterior.programs) >= 4
    samples = space.sample_classes(np.random.default_rng(0), task.size_decay, 400_000, task.prior)
    visible = space.classes[truth, tests[:2]]
    kept = samples[(space.classes[samples][:, tests[:2]] == visible).all(axis=1)]
    counts = Counter(tuple(int(v) for v in space.classes[c, tests]) for c in kept)
    observed = np.array([counts.get(o, 0) for o in posterior.outputs], dtype=float)
    assert observed.sum() == len(kept) > 5_000
    expected = np.array(posterior.probabilities) * len(kept)
    big = expected >= 5
    pooled_observed, pooled_expected = observed[big], expected[big]
    if (~big).any():
        pooled_observed = np.r_[pooled_observed, observed[~big].sum()]
        pooled_expected = np.r_[pooled_expected, expected[~big].sum()]
    assert stats.chisquare(pooled_observed, pooled_expected).pvalue > 1e-3
    uniform = np.full(len(observed), len(kept) / len(observed))
    assert stats.chisquare(observed, uniform).pvalue < 1e-6


# ----------------------------------------------------------------------------- the task
def test_examples_are_deterministic_prefix_stable_and_well_formed() -> None:
    first = list(CodeSimTask(num_examples=30, seed=4).examples(FORMAT))
    assert first[:10] == list(CodeSimTask(num_examples=10, seed=4).examples(FORMAT))
    for example in first:
        assert math.isclose(sum(example.posterior.values()), 1.0)
        assert example.grader == "code" and len(example.gold) == 1
        assert example.gold[0][0].count("assert") == 6
        assert example.metadata["num_classes"] == len(example.posterior)
        assert example.prompt[1]["content"].count(" = ") == 3


def test_compact_prompt_uses_only_grammar_tokens_and_numbers() -> None:
    example = next(CodeSimTask(num_examples=1, prompt_style="compact").examples(FORMAT))
    assert example.prompt[0]["content"] == "programs 3 with confidence"
    words = set(example.prompt[1]["content"].split())
    assert words - set(example.metadata["vocabulary"]) <= {"=", ";"} | {str(v) for v in range(-50, 200)}


def test_held_out_cases_exclude_every_training_prompt_and_stay_deterministic() -> None:
    def visible(example) -> frozenset:
        return frozenset(example.prompt[1]["content"].split(" ; "))

    train = list(CodeSimTask(num_examples=300, seed=0, prompt_style="compact").examples(FORMAT))
    options = {"num_examples": 200, "seed": 7, "prompt_style": "compact"}
    plain = list(CodeSimTask(**options).examples(FORMAT))
    assert {visible(e) for e in plain} & {visible(e) for e in train}  # overlap exists without exclusion
    held = list(CodeSimTask(**options, exclude_seed=0, exclude_examples=300).examples(FORMAT))
    assert len(held) == 200 and not {visible(e) for e in held} & {visible(e) for e in train}
    assert held == list(CodeSimTask(**options, exclude_seed=0, exclude_examples=300).examples(FORMAT))
    kept = {e.id for e in held}
    assert [e for e in plain if e.id in kept] == [e for e in held if e.id in {p.id for p in plain}]
    with pytest.raises(ValueError, match="exclude_examples"):
        list(CodeSimTask(num_examples=5, num_visible=0, exclude_seed=0, exclude_examples=1).examples(FORMAT))


def test_warm_start_answers_are_reference_programs_never_the_posterior() -> None:
    """What real data gives: one program per case that passes its tests; fillers are other cases' programs."""
    import random

    from beyondmode.train.warmstart import answer_pool
    from beyondmode.train.warmstart_data import base_distribution, warmstart_completion

    examples = list(CodeSimTask(num_examples=40, seed=3).examples(FORMAT))
    pool = answer_pool(examples)
    assert set(pool) == {e.metadata["program"] for e in examples}
    single = AnswerFormat(num_candidates=1, with_confidence=False)
    for example in examples:
        assert base_distribution(example) == {example.metadata["program"]: 1.0}
        completion = warmstart_completion(example, single, random.Random(0), pool=pool)
        assert single.parse(completion).candidates[0].text == example.metadata["program"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"exclude_examples": -1}, "exclude_examples"),
        ({"num_tests": 11}, "num_tests"),
        ({"num_visible": 7}, "num_visible"),
        ({"prior": "flat"}, "prior"),
        ({"size_decay": 1.5}, "size_decay"),
        ({"num_args": 3}, "num_args"),
        ({"prompt_style": "tiny"}, "prompt_style"),
    ],
)
def test_bad_options_name_the_option(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CodeSimTask(**options)


def test_registered_and_exported_to_rows_and_parquet(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    task = get_task("code_sim", num_examples=4, seed=2)
    examples = list(task.examples(FORMAT))
    rows = [example_to_row(e) for e in examples]
    assert [row_to_example(r) for r in rows] == examples
    write_parquet(rows, tmp_path / "d.parquet")
    assert [row_to_example(r) for r in pq.read_table(tmp_path / "d.parquet").to_pylist()] == examples
    assert dict(decode_posterior(rows[0]["posterior"])) == dict(examples[0].posterior)


def test_verl_export_and_compute_score_grade_through_the_sandbox(
    tmp_path: Path, shared_code_grader: CodeGrader
) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    from beyondmode.integrations.verl import compute_score, export_verl

    examples = list(CodeSimTask(num_examples=3).examples(FORMAT))
    export_verl(examples, "multi_rlvr", 3, out_dir=tmp_path, task="code_sim", test_fraction=0.0)
    rows = pq.read_table(tmp_path / "train.parquet").to_pylist()
    assert [r["reward_model"]["ground_truth"] for r in rows] == [[list(e.gold[0])] for e in examples]
    truth = examples[0].metadata["program"]
    answers = [truth, "def f ( x ) : return 999", "def f ( x ) : return ("]
    completion = "<think> - </think> " + " ".join(
        f"<answer{i}> {text} </answer{i}>" for i, text in enumerate(answers, 1)
    )
    row = rows[0]
    score = compute_score(
        row["data_source"], completion, row["reward_model"]["ground_truth"], row["extra_info"]
    )
    assert score["coverage"] == 1.0 and score["format"] == 1.0


# ----------------------------------------------------------------------------- grading
@pytest.fixture(scope="module")
def cases() -> list:
    return list(CodeSimTask(num_examples=12, seed=1).examples(FORMAT))


@pytest.fixture(scope="module")
def grader() -> CodeGrader:
    """The real code grader on a sandbox without fork servers: in this environment a fork server dies
    after about one failing job in three and grades the next job `crashed` (a sandbox defect, reported)."""
    sandbox = Sandbox(Limits(timeout_s=2.0), workers=2, fork_server=False)
    yield CodeGrader(sandbox)
    sandbox.close()


@pytest.fixture
def shared_code_grader(grader: CodeGrader):
    """`get_grader("code")` returns `grader` while the test runs (for paths that look the grader up)."""
    register_grader("code", lambda: grader)
    yield grader
    register_grader("code", CodeGrader)


def test_true_program_passes_the_hidden_tests_in_the_sandbox_and_others_fail(
    cases: list, grader: CodeGrader
) -> None:
    texts, golds = [], []
    for example in cases:
        for program in list(example.posterior)[:3]:
            texts.append(program)
            golds.append(example.gold)
        texts.append(example.metadata["program"])
        golds.append(example.gold)
    verdicts = grader.match_pairs(list(zip(texts, golds, strict=True)))
    position = 0
    for example in cases:
        programs = list(example.posterior)[:3]
        truth_class = [p for p in example.posterior if _passes(p, example)]
        assert len(truth_class) == 1  # exactly one class passes the hidden tests
        for program in programs:
            assert (verdicts[position] == 0) == (program == truth_class[0])
            position += 1
        assert verdicts[position] == 0  # the true program itself
        position += 1


def _passes(program: str, example) -> bool:
    parsed = parse_program(program, ("x",))
    outputs = evaluate_program(parsed, [tuple(p) for p in example.metadata["inputs"]])
    return outputs == example.metadata["outputs"]


def test_broken_programs_are_misses_not_exceptions(cases: list, grader: CodeGrader) -> None:
    example = cases[0]
    broken = ["def f ( x ) : return (", "def f(x):\n    while True:\n        pass", "", "not code at all"]
    grades = grade_labels(broken, example.gold, grader)
    assert grades.hits == (0.0, 0.0, 0.0, 0.0)
    assert grade_expected(broken, example.posterior, grader, example.gold).hits == (0.0, 0.0, 0.0, 0.0)


def test_expected_grades_are_class_masses_in_process_and_through_the_sandbox(
    cases: list, grader: CodeGrader
) -> None:
    many = max(
        CodeSimTask(num_examples=20, num_visible=1, seed=5).examples(FORMAT), key=lambda e: len(e.posterior)
    )
    assert len(many.posterior) > 16  # 5 index bits and more
    for example in [*cases[:4], many]:
        keys = list(example.posterior)
        programs = list(dict.fromkeys([keys[0], keys[len(keys) // 2], keys[-1]]))
        in_grammar = grade_expected(programs, example.posterior, grader, example.gold)
        assert in_grammar.hits == tuple(example.posterior[p] for p in programs)
        # the same programs written outside the fragment (a local variable): read through the sandbox
        rewritten = [p.replace(" : return ", ":\n    value = ") + "\n    return value" for p in programs]
        assert parse_program(rewritten[0], ("x",)) is None
        assert grade_expected(rewritten, example.posterior, grader, example.gold).hits == pytest.approx(
            in_grammar.hits
        )


def test_expected_grades_treat_behaviourally_equal_programs_as_one_answer(cases: list) -> None:
    example = cases[0]
    best = next(iter(example.posterior))
    renamed = best.replace(" return ", " return 0 + ")
    grades = grade_expected([best, renamed], example.posterior, get_grader("code"), example.gold)
    assert grades.hits == (example.posterior[best], 0.0)
    assert not grades.distinct


def test_expected_hit_rate_matches_sandbox_pass_rate_in_expectation(grader: CodeGrader) -> None:
    """Mean P(top class hits) over cases equals the sandbox pass rate of the top class (law of total
    probability; 150 cases, 4 standard errors)."""
    examples = list(CodeSimTask(num_examples=150, seed=9).examples(AnswerFormat(num_candidates=1)))
    tops = [next(iter(e.posterior)) for e in examples]
    verdicts = grader.match_pairs([(t, e.gold) for t, e in zip(tops, examples, strict=True)])
    passed = np.array([v == 0 for v in verdicts], dtype=float)
    expected = np.array([e.posterior[t] for t, e in zip(tops, examples, strict=True)])
    standard_error = passed.std() / math.sqrt(len(passed))
    assert abs(passed.mean() - expected.mean()) < 4 * standard_error + 1e-9


def test_tiny_tokenizer_vocabulary_covers_the_grammar_and_round_trips_programs() -> None:
    pytest.importorskip("tokenizers")
    from beyondmode.models.tiny import build_word_tokenizer, task_words

    examples = list(CodeSimTask(num_examples=2, prompt_style="compact").examples(FORMAT))
    words = task_words(examples, [FORMAT])
    assert set(CodeSimTask().grammar.tokens()) <= set(words)
    tokenizer = build_word_tokenizer([], words)
    program = "def f ( x ) : return x // 3 if x < 2 else max ( x , 1 ) % 2"
    ids = tokenizer(program)["input_ids"]
    assert tokenizer.unk_token_id not in ids
    decoded = tokenizer.decode(ids)
    assert parse_program(decoded, ("x",)) is not None


def test_data_command_writes_rows_with_the_posterior(tmp_path: Path) -> None:
    from beyondmode.cli import main
    from beyondmode.tasks.export import read_jsonl

    arguments = ["data", "code_sim", "--out", str(tmp_path), "--num-examples", "5", "--seed", "2"]
    assert main([*arguments, "--set", "prompt_style=compact"]) == 0
    rows = read_jsonl(tmp_path / "data.jsonl")
    expected = list(CodeSimTask(num_examples=5, seed=2, prompt_style="compact").examples(FORMAT))
    assert [row_to_example(r) for r in rows] == expected
    assert all(json.loads(r["posterior"]) for r in rows)
    assert json.loads((tmp_path / "manifest.json").read_text())["counts"]["with_posterior"] == 5


def test_expected_rewards_from_a_row_score_each_class_by_its_own_mass(
    cases: list, grader: CodeGrader
) -> None:
    """The training path: a Scorer in expected mode reads the posterior and gold from a dataset row.
    Each candidate earns its own class's mass (a second-likeliest program is not paid the top class's),
    and a copy ranked above the original takes the hit."""
    from beyondmode.scoring import Scorer

    example = next(e for e in cases if len(e.posterior) >= 2)
    row = example_to_row(example)
    posterior, gold = decode_posterior(row["posterior"]), row_to_example(row).gold
    first, second = list(example.posterior)[:2]
    scorer = Scorer.for_method("multi_rlcr", num_candidates=2, grader="code", mode="expected")
    scorer = Scorer(scorer.answer_format, scorer.spec, grader, scorer.mode)
    completion = f"<think> - </think> <answer1> {second} </answer1> <confidence1> 0.6 </confidence1> "
    completion += f"<answer2> {first} </answer2> <confidence2> 0.3 </confidence2>"
    scored = scorer.score(completion, gold, posterior)
    assert scored.grades.hits == pytest.approx((example.posterior[second], example.posterior[first]))
    copy = second.replace(" return ", " return 0 + ")
    completion = f"<think> - </think> <answer1> {second} </answer1> <confidence1> 0.2 </confidence1> "
    completion += f"<answer2> {copy} </answer2> <confidence2> 0.7 </confidence2>"
    scored = scorer.score(completion, gold, posterior)
    assert scored.grades.hits == pytest.approx((0.0, example.posterior[second]))
    assert not scored.grades.distinct


def test_expected_grades_need_hidden_tests_of_one_shape(cases: list, grader: CodeGrader) -> None:
    example = cases[0]
    with pytest.raises(ValueError, match="assert f\\(INTS\\) == VALUE"):
        grade_expected(["def f(x): return x"], example.posterior, grader, (("assert g(1) == 2\n",),))
    with pytest.raises(ValueError, match="not a program of the evaluable fragment"):
        grade_expected(["def f(x): return x"], {"import os": 1.0}, grader, example.gold)
