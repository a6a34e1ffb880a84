"""Demo profiles: how much data, how many steps, which runs (quick for tests, default, full, large).

A run is one trained model: a method (rlvr, rlcr, multi_rlvr, multi_rlcr), its confidence credit
(`sequence`, or `token` for the per-token variant of multi_rlcr), K and a seed. Every run starts from the
warm start of its format (K, confidences) and seed, so runs that share a format share the warm start.
"""

from __future__ import annotations

import ast
import types
import typing
from dataclasses import dataclass, field, fields, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class DemoRun:
    """One model to train and evaluate."""

    method: str
    seed: int = 0
    num_candidates: int = 3
    confidence_credit: str = "sequence"
    oracle_assisted: bool = False

    @property
    def name(self) -> str:
        """Run label, e.g. `multi_rlcr_token-k3-s0`; single-answer runs carry no K; an oracle-assisted
        run (posterior warm start, expected rewards) ends in `-oracle`."""
        method = self.method + ("_token" if self.confidence_credit == "token" else "")
        k = f"-k{self.num_candidates}" if self.method.startswith("multi") else ""
        return f"{method}{k}-s{self.seed}" + ("-oracle" if self.oracle_assisted else "")

    @property
    def is_multi(self) -> bool:
        return self.method.startswith("multi")

    @property
    def with_confidence(self) -> bool:
        return self.method in ("rlcr", "multi_rlcr")

    @property
    def warmstart_key(self) -> str:
        """Runs with the same key share one warm start: format (K, confidences) and seed."""
        k = self.num_candidates if self.is_multi else 1
        key = f"k{k}-{'conf' if self.with_confidence else 'noconf'}-s{self.seed}"
        return key + ("-oracle" if self.oracle_assisted else "")


def standard_runs(seeds: tuple[int, ...], replicate_seeds: tuple[int, ...] = ()) -> tuple[DemoRun, ...]:
    """The four methods plus multi_rlcr with per-token credit for each seed of `seeds`; the two
    multi_rlcr runs again for each of `replicate_seeds` (the spread of the headline method)."""
    runs: list[DemoRun] = []
    for seed in seeds:
        runs += [DemoRun("rlvr", seed), DemoRun("rlcr", seed), DemoRun("multi_rlvr", seed)]
        runs += [DemoRun("multi_rlcr", seed), DemoRun("multi_rlcr", seed, confidence_credit="token")]
    for seed in replicate_seeds:
        runs += [DemoRun("multi_rlcr", seed), DemoRun("multi_rlcr", seed, confidence_credit="token")]
    return tuple(runs)


def code_sim_runs(seeds: tuple[int, ...]) -> tuple[DemoRun, ...]:
    """code_sim's runs (issue: the paper's coding finding in miniature): RLVR (best-of-k, greedy),
    Multi-RLVR and Multi-RLCR for each seed of `seeds`."""
    return tuple(
        run
        for seed in seeds
        for run in (DemoRun("rlvr", seed), DemoRun("multi_rlvr", seed), DemoRun("multi_rlcr", seed))
    )


@dataclass(frozen=True, slots=True)
class DemoProfile:
    """Every knob of the demo. Fields:

    task: the simulator, `ddx_sim` (diagnosis) or `code_sim` (program synthesis from examples, graded
        in the sandbox); task_options: more options of it (`{"num_visible": 4}`), over the demo's.
    num_train / num_eval: simulated cases for training and for the held-out evaluation (other seed).
    num_findings: revealed findings per case (1-3: the answer is genuinely uncertain).
    hidden_size, num_layers, num_heads, intermediate_size: the tiny Llama's size.
    warmstart_steps, warmstart_batch, warmstart_lr: SFT warm start. Measured here: lr 4e-4 with a
        64-wide model did not learn the format in 200 steps; 2e-3, 128 wide, 400 steps of 32 did for
        every format (parse failures <= 3%) in 30-45 s each. Its answers come from the case's one
        sampled label (what real data gives), except in oracle-assisted runs.
    scratch_warmstart_steps: SFT steps of the warm starts that begin from a fresh model (the
        single-answer base the others continue from, format-only starts); None: `warmstart_steps`.
        The base learns the task, the others mainly the format.
    warmstart_confidence: how the multi formats' warm start picks K answers and confidences from
        labels only: `uniform` (the label in slot 1, distinct random fillers, confidence 1/K: a
        format-only start) or `self_consistency` (the single-answer warm start of the seed, RLVR's
        starting point, sampled `warmstart_samples` times per prompt; K distinct answers by frequency,
        frequencies as confidences; the SFT continues from that model).
    warmstart_shares: the self-consistency frequencies: `sampled` (`warmstart_samples` samples per
        prompt) or `exact` (the base's own probability of each answer its training labels name, scored
        without sampling: `warmstart.answer_shares`).
    warmstart_lists / warmstart_list_temperature: SFT target lists per prompt of the
        self-consistency warm starts (`warmstart.list_samples` / `list_temperature`): 1 is the ranked
        list; more draw each list's K answers from the shares (Plackett-Luce at that temperature), or
        for an "up to K" format (`bench/bench_adaptive_k.py`) the plug-in set's order.
    continued_warmstart_lr: the SFT learning rate of the warm starts that continue from the
        single-answer base (the K-answer self-consistency ones); None: `warmstart_lr`.
    warmstart_label_replay: the share of those warm starts' SFT examples that rehearse the base's
        single-answer label examples (`warmstart.label_replay`; 0: none).
    warmstart_unlabelled: unlabelled prompts that those warm starts also learn from
        (`warmstart.unlabelled`): held-out-like cases (their prompts avoid every training prompt) drawn
        after the held-out ones, none with a held-out prompt, labels removed; the base's answers to them
        are targets like its answers to the training prompts. 0: none.
    rl_self_labelled: how many of those unlabelled prompts the multi-answer GRPO runs train on too,
        each labelled by an answer drawn from the base's answers to it
        (`method.self_labelled_prompts`; at most `warmstart_unlabelled`). 0: none.
    warmstart_examples: how many of the training cases (the first ones) the warm start learns from;
        None: all `num_train`. Fewer models the usual split: a small supervised set, more prompts with
        a verifiable reward for RL.
    workers: processes that run warm starts, GRPO runs and evaluations side by side (one per core).
    grpo_steps, grpo_lr, prompts_per_step, num_generations, temperature, max_completion_length: GRPO,
        the same step budget for every method. lr 1e-3 briefly broke the format of the no-confidence
        formats (about 11% parse failures), 2e-3 broke it; 5e-4 kept it.
    grpo_temperature: GRPO's sampling temperature (None: `temperature`, the evaluation's). The warm
        starts are nearly deterministic at 0.7 (token entropy 0.07-0.15; 37-70% of GRPO groups had
        identical rewards, hence no gradient); 1.3 with 288 steps measured the first RL gains above the
        warm start (docs/demo.md), so it is the default.
    reward_mode: `label` (one sampled diagnosis per case, as with real data) or `expected` (noise-free
        rewards from the simulator's exact posterior, same optimum: oracle-assisted). Oracle-assisted
        runs (`DemoRun.oracle_assisted`) always use `expected` and a posterior warm start.
    method_weights: `RewardSpec` overrides per method (`{"multi_rlcr": {"unique_gate": false}}`).
    prompting_baseline: also evaluate the RLVR model prompted for K answers (`prompt_multi`); off by
        default: a model trained only on single answers never saw the multi-answer format.
    token_beta: KL anchor of the per-token-credit run (DESIGN section 8: 0.1).
    grpo_beta: KL anchor to the warm start of the other runs (the published recipe: 0; 0.1 measured
        best in docs/demo.md: every lever without it lowered coverage below the warm start).
    max_answers, recall_ks, eval_batch: evaluation (answers per example: k up to 30 in the paper;
        prompts per generate call: 32 prompts x 30 samples evaluated a single-answer model 27% faster
        than 256, whose key-value cache of 7,680 rows is copied at every token).
    threads: torch threads (one is fastest for models this small on a shared laptop CPU).
    """

    name: str
    runs: tuple[DemoRun, ...]
    task: str = "ddx_sim"
    task_options: dict[str, Any] = field(default_factory=dict)
    num_train: int = 2000
    num_eval: int = 500
    num_findings: str = "1-3"
    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 512
    warmstart_steps: int = 400
    warmstart_batch: int = 32
    warmstart_lr: float = 2.0e-3
    warmstart_noise: float = 0.05
    scratch_warmstart_steps: int | None = None
    warmstart_confidence: str = "self_consistency"
    warmstart_samples: int = 10
    warmstart_shares: str = "sampled"
    warmstart_lists: int = 1
    warmstart_list_temperature: float = 0.5
    continued_warmstart_lr: float | None = None
    warmstart_label_replay: float = 0.0
    warmstart_unlabelled: int = 0
    rl_self_labelled: int = 0
    warmstart_examples: int | None = None
    grpo_steps: int = 288
    grpo_lr: float = 5.0e-4
    reward_mode: str = "label"
    prompts_per_step: int = 8
    num_generations: int = 8
    temperature: float = 0.7
    grpo_temperature: float | None = 1.3
    max_completion_length: int = 64
    token_beta: float = 0.1
    grpo_beta: float = 0.1
    max_answers: int = 30
    recall_ks: tuple[int, ...] = (1, 3, 5, 10, 30)
    eval_batch: int = 32
    threads: int = 1
    workers: int = 2
    prompting_baseline: bool = False
    method_weights: dict[str, dict[str, Any]] = field(default_factory=dict)


PROFILES: dict[str, DemoProfile] = {
    "quick": DemoProfile(
        name="quick",
        runs=standard_runs((0,)),
        num_train=200,
        num_eval=40,
        hidden_size=32,
        num_heads=2,
        intermediate_size=64,
        warmstart_steps=40,
        warmstart_samples=4,
        warmstart_batch=16,
        grpo_steps=3,
        prompts_per_step=4,
        num_generations=4,
        max_answers=6,
        recall_ks=(1, 3, 6),
        eval_batch=64,
    ),
    "default": DemoProfile(name="default", runs=standard_runs((0,))),
    "full": DemoProfile(
        name="full",
        runs=standard_runs((0, 1, 2))
        + tuple(DemoRun("multi_rlvr", 0, num_candidates=k) for k in (2, 4, 5))
        + (DemoRun("multi_rlcr", 0, confidence_credit="token", oracle_assisted=True),),
        grpo_steps=300,
    ),
    "large": DemoProfile(
        name="large",
        runs=standard_runs((0,)),
        num_train=8000,
        scratch_warmstart_steps=1000,
        warmstart_shares="exact",
        warmstart_lists=8,
        warmstart_steps=1600,
        grpo_steps=576,
    ),
}
"""`large` is the strongest recipe measured on ddx_sim (docs/demo.md, "Four times the labels"): 8,000
labelled cases, a base trained 1,000 SFT steps on them, K = 3 warm starts on 8 target lists per
prompt drawn from the base's exact shares, 1,600 steps, and 576 GRPO steps (twice the default's: with
288, per-token Multi-RLCR ended at 0.88-0.90x the oracle, with 576 at 0.90x in 3 of 3 seeds). No
posterior enters it."""


TASKS = ("ddx_sim", "code_sim")

_CODE_SIM_COMMON = {"max_completion_length": 96, "task_options": {"max_size": 4, "num_visible": 2}}
_CODE_SIM_BASE = {"num_train": 8000, "scratch_warmstart_steps": 4000}
CODE_SIM_FIELDS: dict[str, dict[str, Any]] = {
    "quick": {"runs": code_sim_runs((0,)), **_CODE_SIM_COMMON},
    "default": {"runs": code_sim_runs((0,)), "num_eval": 200, "max_answers": 10, "recall_ks": (1, 3, 10),
                "grpo_steps": 96, **_CODE_SIM_COMMON, **_CODE_SIM_BASE},
    "full": {"runs": code_sim_runs((0, 1, 2)), "grpo_steps": 288, **_CODE_SIM_COMMON, **_CODE_SIM_BASE},
}  # fmt: skip
"""What a profile changes for code_sim: its three runs, room for K programs in a completion, and a
grammar the tiny model can partly learn (programs up to size 4, 2 of 6 examples shown: 151 behaviours;
at size 5 and 3 shown its warm start passed 2.5% of cases). The default evaluates 200 cases with 10
answers and runs 96 GRPO steps: every program is run in the sandbox, which makes a step 2-3x a ddx_sim
step (docs/demo.md). Its single-answer base learns from 8,000 cases for 4,000 SFT steps: with 2,000
cases and 400 steps the base's own top 3 passed 31% of held-out cases, with 8,000 and 4,000 69%
(docs/demo.md)."""


def parse_profile_overrides(items: list[str]) -> dict[str, Any]:
    """`FIELD=VALUE` strings as profile overrides, each value a Python literal of the field's type (a
    bare word is a string); an unknown field or a value of the wrong type is an error naming both.

    >>> parse_profile_overrides(["warmstart_lists=8", "warmstart_shares=exact", "grpo_lr=1e-3"])
    {'warmstart_lists': 8, 'warmstart_shares': 'exact', 'grpo_lr': 0.001}
    """
    hints = typing.get_type_hints(DemoProfile)
    settable = {
        f.name: _allowed_types(hints[f.name]) for f in fields(DemoProfile) if f.name not in ("name", "runs")
    }
    overrides: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or key not in settable:
            known = ", ".join(sorted(settable))
            raise ValueError(
                f"demo profile override {item!r}: expected FIELD=VALUE with FIELD one of {known}"
            )
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text
        allowed = settable[key]
        if type(value) not in allowed:
            names = " or ".join(sorted("None" if t is type(None) else t.__name__ for t in allowed))
            raise ValueError(f"demo profile field {key}: expected {names}, got {text!r}")
        overrides[key] = float(value) if float in allowed and type(value) is int else value
    return overrides


def _allowed_types(hint: Any) -> set[type]:
    """The Python types a field annotated `hint` takes (`int | None` -> int, NoneType; a float also
    takes an int)."""
    members = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    allowed = {typing.get_origin(member) or member for member in members}
    return allowed | {int} if float in allowed else allowed


def get_profile(name: str, task: str = "ddx_sim", **overrides: object) -> DemoProfile:
    """A named profile for `task` with fields replaced; unknown names, tasks and fields are errors
    naming the choices."""
    if name not in PROFILES:
        raise ValueError(f"unknown demo profile {name!r}; choose one of {sorted(PROFILES)}")
    if task not in TASKS:
        raise ValueError(f"unknown demo task {task!r}; choose one of {list(TASKS)}")
    profile = PROFILES[name]
    if task == "code_sim" and name not in CODE_SIM_FIELDS:
        raise ValueError(
            f"demo profile {name!r} is measured for ddx_sim only; for code_sim choose one of "
            f"{sorted(CODE_SIM_FIELDS)}"
        )
    if task == "code_sim":
        profile = replace(profile, task=task, **CODE_SIM_FIELDS[name])
    unknown = sorted(set(overrides) - set(DemoProfile.__dataclass_fields__))
    if unknown:
        raise ValueError(
            f"unknown demo profile fields {unknown}; known: {sorted(DemoProfile.__dataclass_fields__)}"
        )
    return replace(profile, **overrides) if overrides else profile
