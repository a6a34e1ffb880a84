"""`ddx_sim`: the embedded default task, diagnosis cases from the simulator with their exact posterior.

One raw example row (as exported by `beyondmode data ddx_sim`, system message shortened):

    {"id": "ddx_sim-0-000001",
     "prompt": [{"role": "system", "content": "A patient's findings are listed. Propose distinct diagnoses
                 ... Possible diagnoses: Common cold, Influenza, ..."},
                {"role": "user", "content": "Findings:\\n- Chills or shivering\\n- Fatigue\\n- Headache\\n
                 What are the most likely diagnoses?"}],
     "gold": [["COVID-19", "COVID-19-like viral illness", "COVID", "SARS-CoV-2 infection"]],
     "posterior": "{\\"Influenza\\": 0.67, \\"COVID-19\\": 0.25, \\"Tension headache\\": 0.05, ...}",
     "metadata": "{\\"pathology\\": \\"COVID-19\\", \\"findings\\": [\\"chills\\", \\"fatigue\\",
                  \\"headache\\"], ...}"}

`gold="truth"` gives the simulated pathology (with aliases); `gold="differential"` gives every pathology
whose posterior is >= `differential_threshold` (the likeliest first; at least the argmax), for multi-gold
training. `posterior` is P(pathology in the gold set | findings) and carries every pathology's aliases:
the simulator's posterior for `gold="truth"`; for `gold="differential"`, whose gold set is a function of
the findings, 1 for the differential and 0 for the others (the simulator's posterior is then in
`metadata["truth_posterior"]`). `metadata["findings"]` lists the revealed finding identifiers so a trainer can write a short
`<think>` restating them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import ClassVar

import numpy as np

from beyondmode.formats import AnswerFormat
from beyondmode.posterior import Posterior
from beyondmode.tasks.base import build_prompt
from beyondmode.tasks.ddx_kb import KnowledgeBase, embedded_kb, load_kb
from beyondmode.tasks.ddx_sim import RevealPolicy, Simulator
from beyondmode.types import Example

logger = logging.getLogger(__name__)

GOLD_MODES = ("truth", "differential")
PROMPT_STYLES = ("full", "compact")
_CHUNK = 1024
_MAX_DRAWS_PER_EXAMPLE = 50


@dataclass(frozen=True)
class DdxSimTask:
    """Simulated diagnosis cases.

    Options: `num_examples`, `seed`, `num_findings` (an int, a range "1-3" or "all"), `gold` ("truth" or
    "differential"), `differential_threshold`, `kb` ("embedded", a KB JSON file, or a DDXPlus release
    directory, which then needs `ddxplus_stats`, a probability table in the ddxplus_bed_stats shape),
    `ddxplus_codes` ("en" or "fr": which release's evidence codes to use), `list_pathologies` (name the
    possible diagnoses in the system prompt), `prompt_style` ("full": English instructions and findings;
    "compact": a one-line system prompt naming K and whether confidences are asked for, and the finding
    codes, for tiny models that learn the format from the warm start and pay for every prompt token).
    The first n examples are the same whatever `num_examples`. `exclude_seed` / `exclude_examples`:
    skip every case whose revealed findings (hence prompt) equal those of one of the first
    `exclude_examples` cases of seed `exclude_seed` (held-out cases disjoint from the training prompts).
    """

    num_examples: int = 1000
    seed: int = 0
    num_findings: str | int = "1-3"
    gold: str = "truth"
    differential_threshold: float = 0.1
    kb: str = "embedded"
    ddxplus_stats: str | None = None
    ddxplus_codes: str = "en"
    list_pathologies: bool = True
    prompt_style: str = "full"
    exclude_seed: int | None = None
    exclude_examples: int = 0

    name: ClassVar[str] = "ddx_sim"
    grader: ClassVar[str] = "exact_match"

    def __post_init__(self) -> None:
        if self.gold not in GOLD_MODES:
            raise ValueError(f"ddx_sim option gold must be one of {GOLD_MODES}, got {self.gold!r}")
        if not 0 < self.differential_threshold <= 1:
            raise ValueError(
                f"ddx_sim option differential_threshold must be in (0, 1], got {self.differential_threshold}"
            )
        if self.num_examples < 0:
            raise ValueError(f"ddx_sim option num_examples must be >= 0, got {self.num_examples}")
        RevealPolicy.parse(self.num_findings)
        if self.prompt_style not in PROMPT_STYLES:
            raise ValueError(
                f"ddx_sim option prompt_style must be one of {PROMPT_STYLES}, got {self.prompt_style!r}"
            )

    @property
    def multi_gold(self) -> bool:
        return self.gold == "differential"

    @property
    def policy(self) -> RevealPolicy:
        return RevealPolicy.parse(self.num_findings)

    @property
    def task_sentence(self) -> str:
        sentence = "A patient's findings are listed. Propose distinct diagnoses, written as pathology names."
        if self.list_pathologies:
            sentence += " Possible diagnoses: " + ", ".join(self.simulator().kb.pathology_names) + "."
        return sentence

    def knowledge_base(self) -> KnowledgeBase:
        return _load_knowledge_base(self.kb, self.ddxplus_stats, self.ddxplus_codes)

    def simulator(self) -> Simulator:
        return _simulator(self.kb, self.ddxplus_stats, self.ddxplus_codes)

    def examples(self, answer_format: AnswerFormat) -> Iterator[Example]:
        simulator = self.simulator()
        if self.prompt_style == "compact":
            system = compact_instructions(answer_format)
        else:
            system = answer_format.instructions(self.task_sentence)
        excluded: set[tuple[int, ...]] = set()
        if self.exclude_seed is not None:
            cases = self._cases(simulator, self.exclude_seed)
            excluded = {revealed for _, _, revealed in islice(cases, self.exclude_examples)}
        limit = _MAX_DRAWS_PER_EXAMPLE * self.num_examples + _CHUNK
        count = 0
        for index, truth, revealed in self._cases(simulator, self.seed):
            if count == self.num_examples:
                return
            if index >= limit:
                raise ValueError(
                    f"ddx_sim: only {count} of num_examples={self.num_examples} cases have prompts outside "
                    f"the {self.exclude_examples} excluded cases of seed {self.exclude_seed} after {index} "
                    "draws: lower num_examples or exclude_examples, or reveal more findings (num_findings)"
                )
            if revealed in excluded:
                continue
            count += 1
            yield self._example(simulator, system, index, truth, revealed)

    def _cases(self, simulator: Simulator, seed: int) -> Iterator[tuple[int, int, tuple[int, ...]]]:
        """(index, true pathology, revealed findings) of every case of `seed`, in order, without end."""
        rng = np.random.default_rng(seed)
        policy = self.policy
        index = 0
        while True:
            pathologies = simulator.sample_pathologies(rng, _CHUNK)  # full chunks: prefix-stable
            shown = simulator.reveal_batch(rng, simulator.sample_findings(rng, pathologies), policy)
            for offset in range(_CHUNK):
                yield index, int(pathologies[offset]), tuple(int(a) for a in np.flatnonzero(shown[offset]))
                index += 1

    def _user_message(self, metadata: dict) -> str:
        if self.prompt_style == "compact":
            return "findings : " + " ; ".join(metadata["findings"])
        return render_case(metadata["finding_texts"])

    def _example(
        self, simulator: Simulator, system: str, index: int, truth: int, revealed: tuple[int, ...]
    ) -> Example:
        kb = simulator.kb
        posterior = simulator.posterior(revealed, self.policy)
        order = np.argsort(-posterior, kind="stable")
        differential = [int(d) for d in order if posterior[d] >= self.differential_threshold] or [
            int(order[0])
        ]
        gold_rows = [truth] if self.gold == "truth" else differential
        metadata = {
            "pathology": kb.pathologies[truth].name,
            "findings": [simulator.atom_ids[a] for a in revealed],
            "finding_texts": render_findings(simulator, revealed),
            "num_findings": len(revealed),
            "differential": [kb.pathologies[d].name for d in differential],
            **(
                {"truth_posterior": {kb.pathologies[d].name: float(posterior[d]) for d in order}}
                if self.gold == "differential"
                else {}
            ),
            "kb": kb.name,
            "policy": self.num_findings,
            "seed": self.seed,
            "index": index,
        }
        return Example(
            id=f"{self.name}-{self.seed}-{index:06d}",
            prompt=build_prompt(system, self._user_message(metadata)),
            gold=tuple(kb.pathologies[d].gold for d in gold_rows),
            grader=self.grader,
            metadata=metadata,
            posterior=self._gold_posterior(kb, posterior, order, differential),
        )

    def _gold_posterior(
        self, kb: KnowledgeBase, posterior: np.ndarray, order: np.ndarray, differential: list[int]
    ) -> Posterior:
        """P(pathology in the gold set | findings), with every pathology's aliases.

        With `gold="truth"` that is the simulator's posterior. With `gold="differential"` the gold set is
        a function of the findings (every pathology whose posterior clears the threshold), so membership
        is certain: 1 for the differential, 0 for the others. Expected rewards then equal label rewards
        (which carry no label noise here) and the oracle row states confidence 1 on the differential,
        the true ceiling of the metrics computed against that gold set.
        """
        if self.gold == "truth":
            probabilities = {kb.pathologies[d].name: float(posterior[d]) for d in order}
        else:
            members = set(differential)
            probabilities = {kb.pathologies[d].name: 1.0 if d in members else 0.0 for d in order}
        aliases = {p.name: p.aliases for p in kb.pathologies if p.aliases}
        return Posterior(probabilities, aliases)


def render_findings(simulator: Simulator, revealed: tuple[int, ...]) -> list[str]:
    """One English line per evidence (a multi-choice evidence's values share a line), in KB order."""
    by_evidence: dict[int, list[str | None]] = {}
    for atom in sorted(revealed):
        evidence_index, value = simulator.atoms[atom]
        by_evidence.setdefault(evidence_index, []).append(value)
    lines = []
    for evidence_index in sorted(by_evidence):
        values = tuple(v for v in by_evidence[evidence_index] if v is not None)
        lines.append(simulator.kb.evidences[evidence_index].render(values))
    return lines


def compact_instructions(answer_format: AnswerFormat) -> str:
    """The compact system prompt: K and whether confidences are asked for.

    >>> compact_instructions(AnswerFormat(num_candidates=3))
    'diagnoses 3 with confidence'
    """
    confidence = "with confidence" if answer_format.with_confidence else "without confidence"
    return f"diagnoses {answer_format.num_candidates} {confidence}"


def render_case(finding_texts: list[str]) -> str:
    """The user message of a case.

    >>> print(render_case(["Fever", "Cough type: dry"]))
    Findings:
    - Fever
    - Cough type: dry
    What are the most likely diagnoses?
    """
    lines = [f"- {text}" for text in finding_texts] or ["- (no findings reported)"]
    return "\n".join(["Findings:", *lines, "What are the most likely diagnoses?"])


_KB_CACHE: dict[tuple[str, str | None, str], Simulator] = {}


def _simulator(kb: str, stats: str | None, codes: str) -> Simulator:
    key = (kb, stats, codes)
    if key not in _KB_CACHE:
        _KB_CACHE[key] = Simulator(_load_knowledge_base(kb, stats, codes))
    return _KB_CACHE[key]


def _load_knowledge_base(kb: str, stats: str | None, codes: str) -> KnowledgeBase:
    if kb == "embedded":
        return embedded_kb()
    path = Path(kb)
    if path.is_dir():
        from beyondmode.tasks.ddxplus_kb import load_ddxplus_kb

        if stats is None:
            raise ValueError(
                f"ddx_sim: kb={kb!r} is a DDXPlus release directory; set ddxplus_stats (a probability table)"
            )
        return load_ddxplus_kb(path, stats, codes=codes)
    return load_kb(path)
