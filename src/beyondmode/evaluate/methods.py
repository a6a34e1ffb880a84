"""Evaluation methods: how each method prompts the model and how many generations it draws.

| method       | format                    | generations per example | temperature   | answers i.i.d. |
|--------------|---------------------------|-------------------------|---------------|----------------|
| multi_answer | K candidates (+conf.)     | ceil(max_answers / K)   | settings      | no             |
| prompt_multi | K candidates (+conf.)     | ceil(max_answers / K)   | settings      | no             |
| verbalized   | K candidates + probs      | ceil(max_answers / K)   | settings      | no             |
| best_of_k    | 1 answer (+conf.)         | max_answers             | settings (.7) | yes            |
| greedy       | 1 answer (+conf.)         | 1                       | 0             | no             |

`multi_answer` and `prompt_multi` send the same prompt; the names say what is evaluated: a model trained
to answer with K candidates, or a single-answer model asked for K answers (the prompting baseline).
`verbalized` adds a verbalized-sampling instruction ("sample K answers from the full distribution, each
with its probability"). The oracle (top of the exact posterior) is not a generation method: see
`beyondmode.evaluate.results.oracle_generations`.

>>> from beyondmode.evaluate.settings import EvalSettings
>>> [m.name for m in build_methods(EvalSettings(methods=("multi_answer", "greedy")))]
['multi_answer', 'greedy']
"""

from __future__ import annotations

from dataclasses import dataclass

from beyondmode.evaluate.settings import EvalSettings
from beyondmode.formats import AnswerFormat
from beyondmode.methods import method_spec
from beyondmode.rewards import RewardSpec
from beyondmode.types import Example

VERBALIZED_SENTENCE = (
    "Do not just list the most likely answers: sample these {k} answers at random from the full "
    "distribution of plausible answers, and give each its probability of being correct."
)


@dataclass(frozen=True, slots=True)
class EvalMethod:
    """One way of drawing answers from a model.

    `iid` is True when the generations are independent single-answer samples, the only case where the
    unbiased pass@k estimator applies.
    """

    name: str
    answer_format: AnswerFormat
    num_generations: int
    temperature: float
    iid: bool
    extra_instruction: str = ""

    @property
    def is_multi(self) -> bool:
        return self.answer_format.num_candidates > 1

    @property
    def reward_spec(self) -> RewardSpec:
        """The reward recipe whose terms are logged beside the metrics (the matching training method)."""
        confident = self.answer_format.with_confidence
        if self.is_multi:
            return method_spec("multi_rlcr" if confident else "multi_rlvr")
        return method_spec("rlcr" if confident else "rlvr")

    def prompt(self, example: Example) -> tuple[dict[str, str], ...]:
        """The example's chat messages, with this method's extra instruction appended to the last one."""
        messages = [dict(m) for m in example.prompt]
        if self.extra_instruction:
            if not messages:
                raise ValueError(f"example {example.id} has an empty prompt")
            messages[-1]["content"] = f"{messages[-1]['content']}\n{self.extra_instruction}"
        return tuple(messages)


def build_methods(settings: EvalSettings) -> list[EvalMethod]:
    """The methods listed in `settings.methods`, in that order."""
    k = settings.num_candidates
    multi = AnswerFormat(num_candidates=k, **settings.format_options())  # type: ignore[arg-type]
    single = AnswerFormat(num_candidates=1, **settings.format_options())  # type: ignore[arg-type]
    verbalized = AnswerFormat(num_candidates=k, **settings.format_options(with_confidence=True))  # type: ignore[arg-type]
    t = settings.temperature
    catalogue = {
        "multi_answer": EvalMethod("multi_answer", multi, settings.generations_for("multi_answer"), t, False),
        "prompt_multi": EvalMethod("prompt_multi", multi, settings.generations_for("prompt_multi"), t, False),
        "verbalized": EvalMethod(
            "verbalized",
            verbalized,
            settings.generations_for("verbalized"),
            t,
            False,
            VERBALIZED_SENTENCE.format(k=k),
        ),
        "best_of_k": EvalMethod("best_of_k", single, settings.generations_for("best_of_k"), t, t > 0),
        "greedy": EvalMethod("greedy", single, 1, 0.0, False),
    }
    return [catalogue[name] for name in settings.methods]
