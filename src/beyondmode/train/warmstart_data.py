"""Warm-start SFT targets: completions in the method's format whose answers come from a base distribution.

Answers are drawn from the example's gold answers (uniformly: for ddx_sim with `gold=truth`, the one
sampled label of the case, which is all that real data gives), padded with distinct answers from an
answer pool. With `use_posterior` (oracle-assisted: only a simulator knows it) they are drawn from the
exact posterior instead (for K > 1: K answers WITHOUT replacement). Confidences:

- `uniform`: 1/K for every slot (no information); `constant`: one fixed value.
- `oracle`: the posterior probability of each answer plus Gaussian noise (clipped to [0, 1]); slots are
  sorted by that confidence, highest first.
- `self_consistency` (label-free): the frequencies of the answers among N samples of the base model;
  see `frequency_completion`.

The think block reads the case back in words (`metadata["finding_texts"]`, lowercased, `;`-separated),
else restates the finding codes (`metadata["findings"]`), else is `DEFAULT_THINK`. A single-answer
sample writes it again every time; one K-candidate generation writes it once (the cost comparison).

>>> import random
>>> from beyondmode.formats import AnswerFormat
>>> counts = {"flu": 6, "cold": 3, "asthma": 1}
>>> print(frequency_completion(counts, AnswerFormat(2), "fever", [], random.Random(0)))
<think> fever </think>
<answer1> flu </answer1> <confidence1> 0.60 </confidence1>
<answer2> cold </answer2> <confidence2> 0.30 </confidence2>
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence

from beyondmode.formats import AnswerFormat
from beyondmode.models.tiny import DEFAULT_THINK
from beyondmode.types import Candidate, Example

CONFIDENCE_MODES = ("uniform", "constant", "oracle")

SAMPLES_FILE = "samples.jsonl"
"""The file beside a self-consistency warm start's model that records its base's answers per prompt: a
header row (the sampling settings), then one `{"id", "counts"}` row per prompt (counts, or exact
shares). `warmstart.samples_from` and `method.self_labelled_prompts` read it."""


def think_text(example: Example) -> str:
    """The warm start's `<think>` text for `example`.

    >>> think_text(Example("e", (), (("flu",),), metadata={"finding_texts": ["Fever", "Dry cough"]}))
    'fever ; dry cough'
    """
    texts = example.metadata.get("finding_texts")
    if texts:
        return " ; ".join(str(text).lower() for text in texts)
    findings = example.metadata.get("findings")
    if findings:
        return " ".join(str(finding) for finding in findings)
    return DEFAULT_THINK


def base_distribution(example: Example, use_posterior: bool = False) -> dict[str, float]:
    """The distribution answers are drawn from: uniform over the gold answers (over
    `metadata["reference_answers"]` where the gold is a test rather than an answer: code_sim's one
    program per case that passes its tests, as MBPP gives a reference solution), or (`use_posterior`,
    oracle-assisted) the exact posterior where the example has one.

    >>> base_distribution(Example("e", (), (("assert f(1) == 2",),), metadata={"reference_answers": ["f"]}))
    {'f': 1.0}
    """
    if use_posterior and example.posterior:
        return {answer: p for answer, p in example.posterior.items() if p > 0}
    names = reference_answers(example) or example.gold_names
    return {name: 1.0 / len(names) for name in names}


def reference_answers(example: Example) -> list[str]:
    """Answers known to satisfy the example's gold when the gold is a test (`metadata["reference_answers"]`),
    else none."""
    return [str(answer) for answer in example.metadata.get("reference_answers") or ()]


def draw_without_replacement(distribution: Mapping[str, float], k: int, rng: random.Random) -> list[str]:
    """k distinct answers, each next one drawn in proportion to its probability among those left.

    >>> draw_without_replacement({"a": 1.0, "b": 0.0}, 1, random.Random(0))
    ['a']
    """
    remaining = dict(distribution)
    drawn: list[str] = []
    while remaining and len(drawn) < k:
        answers = list(remaining)
        weights = [remaining[a] for a in answers]
        choice = rng.choices(answers, weights=weights)[0] if sum(weights) > 0 else rng.choice(answers)
        drawn.append(choice)
        del remaining[choice]
    return drawn


def warmstart_completion(
    example: Example,
    answer_format: AnswerFormat,
    rng: random.Random,
    confidence: str = "uniform",
    constant: float = 0.5,
    noise: float = 0.05,
    pool: Sequence[str] = (),
    use_posterior: bool = False,
) -> str:
    """One SFT target for `example` (see the module docstring for the confidence modes)."""
    if confidence not in CONFIDENCE_MODES:
        raise ValueError(f"confidence {confidence!r}: choose one of {CONFIDENCE_MODES}")
    if confidence == "oracle" and not (use_posterior and example.posterior):
        raise ValueError(
            "warmstart.confidence=oracle needs the exact posterior: set warmstart.answers=posterior "
            "(oracle-assisted) on a task that has one (ddx_sim)"
        )
    k = answer_format.num_candidates
    distribution = base_distribution(example, use_posterior)
    answers = _pad(draw_without_replacement(distribution, k, rng), k, pool, rng)
    if not answer_format.with_confidence:
        return answer_format.render(answers, think=think_text(example))
    if confidence == "uniform":
        values = [1.0 / k] * k
    elif confidence == "constant":
        values = [constant] * k
    else:
        values = [min(1.0, max(0.0, distribution.get(a, 0.0) + rng.gauss(0.0, noise))) for a in answers]
        order = sorted(range(k), key=lambda i: -values[i])
        answers, values = [answers[i] for i in order], [values[i] for i in order]
    candidates = [Candidate(a, q) for a, q in zip(answers, values, strict=True)]
    return answer_format.render(candidates, think=think_text(example))


def frequency_completion(
    counts: Mapping[str, int],
    answer_format: AnswerFormat,
    think: str,
    pool: Sequence[str],
    rng: random.Random,
    min_frequency: float = 0.0,
) -> str:
    """K candidates sorted by how often the base model gave them, with the frequencies as confidences.

    Fewer than K distinct answers are padded with unseen answers from `pool` at confidence 0. With an
    "up to K" format (`AnswerFormat.min_candidates`) only the answers whose frequency exceeds
    `min_frequency` are listed (at least `min_candidates`, the next most frequent first), unpadded.

    >>> from beyondmode.formats import AnswerFormat
    >>> up_to = AnswerFormat(3, with_confidence=False, min_candidates=1)
    >>> print(frequency_completion({"flu": 6, "cold": 3, "measles": 1}, up_to, "t", [], random.Random(0), 0.2))
    <think> t </think>
    <answer1> flu </answer1>
    <answer2> cold </answer2>
    """
    total = sum(counts.values())
    shares = {answer: count / total if total else 0.0 for answer, count in counts.items()}
    fewest = answer_format.fewest_candidates  # K for a fixed-K format: the K most frequent
    answers = plug_in_answers(shares, fewest, min_frequency)[: answer_format.num_candidates]
    candidates = [Candidate(answer, shares[answer]) for answer in answers]
    return _render_padded(candidates, fewest, answer_format, think, pool, rng)


def plug_in_answers(shares: Mapping[str, float], fewest: int, min_frequency: float) -> list[str]:
    """The answers whose share exceeds `min_frequency`, most frequent first (ties by name): the
    plug-in rule of an "up to K" list; the `fewest` most frequent when fewer qualify (so, cut to K,
    the K most frequent for a fixed-K format, whose `fewest` is K).

    >>> plug_in_answers({"flu": 0.6, "cold": 0.3, "asthma": 0.1}, 1, 0.2)
    ['flu', 'cold']
    >>> plug_in_answers({"flu": 0.6, "cold": 0.3, "asthma": 0.1}, 1, 0.7)
    ['flu']
    """
    ranked = sorted(shares, key=lambda answer: (-shares[answer], answer))
    qualifying = [answer for answer in ranked if shares[answer] > min_frequency]
    return qualifying if len(qualifying) >= fewest else ranked[:fewest]


def _render_padded(
    candidates: list[Candidate],
    k: int,
    answer_format: AnswerFormat,
    think: str,
    pool: Sequence[str],
    rng: random.Random,
) -> str:
    """`candidates` padded to `k` with distinct answers from `pool` at confidence 0, rendered (without
    their confidences where the format asks for none)."""
    padding = _pad([c.text for c in candidates], k, pool, rng)[len(candidates) :]
    candidates = [*candidates, *(Candidate(answer, 0.0) for answer in padding)]
    if not answer_format.with_confidence:
        return answer_format.render([c.text for c in candidates], think=think)
    return answer_format.render(candidates, think=think)


def check_list_sampling(num_lists: int, temperature: float) -> None:
    """Refuse list-sampling settings that `sampled_list_completions` cannot honour, naming the keys."""
    if num_lists < 1 or temperature <= 0:
        raise ValueError(
            f"warmstart.list_samples must be >= 1 and warmstart.list_temperature > 0, got {num_lists} "
            f"and {temperature}"
        )


def sampled_list_completions(
    counts: Mapping[str, float],
    answer_format: AnswerFormat,
    think: str,
    pool: Sequence[str],
    rng: random.Random,
    num_lists: int,
    temperature: float,
    min_frequency: float = 0.0,
) -> list[str]:
    """`num_lists` completions whose K answers are drawn without replacement, each with probability
    proportional to share ** (1 / temperature) among those not yet listed (Plackett-Luce, drawn as the
    K largest log-weights plus Gumbel noise); confidences stay the shares, and answers with no share
    pad the list from `pool` at confidence 0, as in `frequency_completion`.

    One ranked list per prompt (`frequency_completion`) is a hard target that the K-candidate SFT
    learns prompt by prompt; lists drawn from the shares teach the slot distributions instead, whose
    greedy decoding is the ranked list. A temperature near 0 gives the ranked list every time.

    With an "up to K" format (`AnswerFormat.min_candidates`) the draw is among the answers whose share
    exceeds `min_frequency` (the plug-in set of `frequency_completion`; the most frequent ones when
    fewer than `min_candidates` qualify), and each list stops after min(K, qualifying) answers: every
    list holds the plug-in set when at most K qualify, in a drawn order, and when more qualify, which K
    is drawn too. Unpadded, as in `frequency_completion`.

    >>> from beyondmode.formats import AnswerFormat
    >>> fmt = AnswerFormat(2, with_confidence=False)
    >>> lists = sampled_list_completions({"flu": 0.6, "cold": 0.3, "asthma": 0.1}, fmt, "t", [], random.Random(0), 3, 1.0)
    >>> len(lists), all(text.startswith("<think> t </think>") for text in lists)
    (3, True)
    >>> up_to = AnswerFormat(3, with_confidence=False, min_candidates=1)
    >>> drawn = sampled_list_completions({"flu": 0.6, "cold": 0.3, "asthma": 0.1}, up_to, "t", [], random.Random(0), 20, 1.0, 0.2)
    >>> sorted({text.count("</answer") for text in drawn}), any("asthma" in text for text in drawn)
    ([2], False)
    """
    check_list_sampling(num_lists, temperature)
    total = sum(counts.values())
    shares = {answer: count / total for answer, count in counts.items() if count > 0} if total else {}
    k = answer_format.num_candidates
    fewest = answer_format.fewest_candidates
    if fewest < k:
        shares = {answer: shares[answer] for answer in plug_in_answers(shares, fewest, min_frequency)}
        k = max(fewest, min(k, len(shares)))
    completions = []
    for _ in range(num_lists):
        keys = {
            answer: math.log(share) / temperature - math.log(-math.log(rng.random() or 1e-300))
            for answer, share in shares.items()
        }
        drawn = sorted(keys, key=lambda answer: -keys[answer])[:k]
        candidates = [Candidate(answer, shares[answer]) for answer in drawn]
        completions.append(_render_padded(candidates, k, answer_format, think, pool, rng))
    return completions


def _pad(answers: list[str], k: int, pool: Sequence[str], rng: random.Random) -> list[str]:
    unused = [a for a in dict.fromkeys(pool) if a not in answers]
    rng.shuffle(unused)
    while len(answers) < k:
        if not unused:
            raise ValueError(f"cannot fill {k} distinct answers: the answer pool has too few answers")
        answers = [*answers, unused.pop()]
    return answers
