"""verl's reward entry point: `compute_score(data_source, solution_str, ground_truth, extra_info)`.

verl's reward managers call it once per completion (`naive`, `dapo`, `prime`) or once per batch
(`batch`: `compute_score_batch`). Everything the scorer needs travels with the row, so the function is
stateless; one `Scorer` per distinct settings is cached.

Row fields read (written by `beyondmode.integrations.verl.export_verl`):

- `reward_model.ground_truth`: one alias list per gold element, `[["influenza", "flu"], ["measles"]]`
  (a plain string is one gold answer);
- `extra_info["beyondmode"]`: `method`, `num_candidates`, `multi_gold`, `grader`, `reward_mode`,
  `reward_overrides` (JSON object of `RewardSpec` fields), `format_options` (JSON object of
  `AnswerFormat` fields), `posterior` (`[{"answer", "probability", "aliases"}]`, read by `beyondmode.posterior.decode_posterior`, for expected rewards), and the
  provenance fields `task`, `task_options`, `example_id`, `reward_version`, `format_version`.

Other `extra_info` keys (verl's `index`, `split`, `num_turns`, ...) are ignored. Keyword arguments
(verl's `custom_reward_function.reward_kwargs`) fill in or override the row's settings; the ones that
shape the prompt (method, num_candidates, format_options) must agree with the row, because the prompt
was rendered for them.

The result is verl's dict form: `score` (the total), `acc` (the method's accuracy term), every reward
term, and the number of format violations; the keys are the same for every completion, as verl's
`reward_extra_info` needs.

>>> row = {"beyondmode": {"method": "multi_rlvr", "num_candidates": 2}}
>>> result = compute_score("beyondmode/demo", "<think> - </think> <answer1> flu </answer1> "
...                        "<answer2> cold </answer2>", [["influenza", "flu"]], row)
>>> result["score"], result["coverage"], result["format"]
(1.0, 1.0, 1.0)
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from beyondmode.formats import FORMAT_VERSION
from beyondmode.grading import get_grader
from beyondmode.grading.base import Gold
from beyondmode.methods import Method, method_format, method_spec
from beyondmode.posterior import decode_posterior, plain_data
from beyondmode.rewards import REWARD_VERSION, TERM_NAMES
from beyondmode.scoring import RewardMode, ScoredCompletion, Scorer
from beyondmode.types import as_gold

logger = logging.getLogger(__name__)

EXTRA_INFO_KEY = "beyondmode"
"""The `extra_info` key that holds our settings; verl and users own the other keys."""

PROVENANCE_FIELDS = ("task", "task_options", "example_id", "reward_version", "format_version")
PROMPT_FIELDS = ("method", "num_candidates", "format_options")
SCORE_KEYS = ("score", "acc", *TERM_NAMES, "violations")
"""The keys of every `compute_score` result, in order."""


@dataclass(frozen=True, slots=True)
class VerlSettings:
    """What the scorer of one row needs. Hashable: one cached `Scorer` per distinct value.

    `num_candidates` is the format's K (1 for the single-answer methods, whatever was asked).
    `reward_overrides` and `format_options` are sorted (name, value) pairs.
    """

    method: str
    num_candidates: int = 3
    multi_gold: bool = False
    grader: str = "exact_match"
    reward_mode: str = RewardMode.LABEL.value
    reward_overrides: tuple[tuple[str, Any], ...] = ()
    format_options: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        method = Method(_known(self.method, [m.value for m in Method], "method"))
        object.__setattr__(self, "method", method.value)
        object.__setattr__(
            self, "reward_mode", _known(self.reward_mode, [m.value for m in RewardMode], "reward_mode")
        )
        if not isinstance(self.num_candidates, int) or self.num_candidates < 1:
            raise ValueError(f"num_candidates must be an integer >= 1, got {self.num_candidates!r}")
        if not method.is_multi:
            object.__setattr__(self, "num_candidates", 1)
        for name in ("reward_overrides", "format_options"):
            object.__setattr__(self, name, tuple(sorted(getattr(self, name))))

    def scorer(self) -> Scorer:
        """The (cached) scorer for these settings."""
        return _cached_scorer(self)

    def to_record(self) -> dict[str, Any]:
        """The settings as stored in `extra_info["beyondmode"]` (mappings as JSON objects)."""
        return {
            "method": self.method,
            "num_candidates": self.num_candidates,
            "multi_gold": self.multi_gold,
            "grader": self.grader,
            "reward_mode": self.reward_mode,
            "reward_overrides": json.dumps(dict(self.reward_overrides), sort_keys=True),
            "format_options": json.dumps(dict(self.format_options), sort_keys=True),
        }


SETTINGS_FIELDS = tuple(VerlSettings.__dataclass_fields__)
RECORD_FIELDS = (*SETTINGS_FIELDS, "posterior", *PROVENANCE_FIELDS)
_RECORD_FIELD_SET = frozenset(RECORD_FIELDS)
_SETTINGS_CACHE: dict[Any, VerlSettings] = {}
_SETTINGS_CACHE_SIZE = 1024


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    *,
    method: str | None = None,
    num_candidates: int | None = None,
    multi_gold: bool | None = None,
    grader: str | None = None,
    reward_mode: str | None = None,
    reward_overrides: Mapping[str, Any] | str | None = None,
    format_options: Mapping[str, Any] | str | None = None,
) -> dict[str, float]:
    """Score one completion the way `Scorer.score` does; returns verl's dict form (see module doc)."""
    run = {
        "method": method,
        "num_candidates": num_candidates,
        "multi_gold": multi_gold,
        "grader": grader,
        "reward_mode": reward_mode,
        "reward_overrides": reward_overrides,
        "format_options": format_options,
    }
    item = _ScoringItem.read(data_source, solution_str, ground_truth, extra_info, run)
    return item.score()


@dataclass(frozen=True, slots=True)
class _ScoringItem:
    """One completion with its scorer, gold and posterior, read from verl's arguments."""

    scorer: Scorer
    solution: str
    gold: Gold
    posterior: Mapping[str, float] | None

    @classmethod
    def read(
        cls,
        data_source: str,
        solution_str: str,
        ground_truth: Any,
        extra_info: Mapping[str, Any] | None,
        run: Mapping[str, Any],
    ) -> _ScoringItem:
        record = row_record(extra_info, data_source)
        given = {name: _hashable(value) for name, value in run.items() if value is not None}
        settings = _cached_settings(record, given, data_source)
        posterior = decode_posterior(
            record.get("posterior"), f"{data_source}: extra_info.{EXTRA_INFO_KEY}.posterior"
        )
        return cls(settings.scorer(), solution_str, decode_gold(ground_truth, data_source), posterior)

    def score(self) -> dict[str, float]:
        return score_dict(self.scorer.score(self.solution, self.gold, self.posterior), self.scorer)


def compute_score_batch(
    data_sources: Sequence[str],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Mapping[str, Any] | None],
    **run_settings: Any,
) -> list[dict[str, float]]:
    """verl's `batch` reward manager form; `run_settings` are `compute_score`'s keyword arguments.

    Where the grader is the code grader (label mode), every candidate program of the batch runs in the
    sandbox in one parallel batch first (`Scorer.prefetch`); scoring then reads memoised verdicts.
    """
    items = [
        _ScoringItem.read(source, text, truth, info, run_settings)
        for source, text, truth, info in zip(
            data_sources, solution_strs, ground_truths, extra_infos, strict=True
        )
    ]
    by_scorer: dict[int, list[_ScoringItem]] = {}
    for item in items:
        by_scorer.setdefault(id(item.scorer), []).append(item)
    for group in by_scorer.values():
        group[0].scorer.prefetch([item.solution for item in group], [item.gold for item in group])
    return [item.score() for item in items]


def score_dict(scored: ScoredCompletion, scorer: Scorer) -> dict[str, float]:
    """verl's dict: `score`, `acc`, every term, `violations` (plain floats, the same keys every time)."""
    terms = scored.breakdown.terms
    result = {"score": float(scored.breakdown.total), "acc": float(terms[scorer.spec.accuracy])}
    result.update((name, float(terms[name])) for name in TERM_NAMES)
    result["violations"] = float(len(scored.parsed.violations))
    return result


# ------------------------------------------------------------------------------------- decoding
def row_record(extra_info: Mapping[str, Any] | None, data_source: str) -> Mapping[str, Any]:
    """`extra_info["beyondmode"]`, checked for unknown keys ({} when the row has none)."""
    if extra_info is None:
        return {}
    if not isinstance(extra_info, Mapping):
        raise TypeError(f"{data_source}: extra_info must be a mapping, got {type(extra_info).__name__}")
    record = extra_info.get(EXTRA_INFO_KEY) or {}
    if not isinstance(record, Mapping):
        raise TypeError(f"{data_source}: extra_info.{EXTRA_INFO_KEY} must be a mapping, got {record!r}")
    unknown = sorted(set(record) - _RECORD_FIELD_SET)
    if unknown:
        raise ValueError(
            f"{data_source}: unknown extra_info.{EXTRA_INFO_KEY} keys {unknown}; known: {list(RECORD_FIELDS)}"
        )
    version = record.get("reward_version")
    if version is not None and int(version) != REWARD_VERSION:
        _warn_version("reward_version", int(version), REWARD_VERSION)
    version = record.get("format_version")
    if version is not None and int(version) != FORMAT_VERSION:
        _warn_version("format_version", int(version), FORMAT_VERSION)
    return record


def resolve_settings(record: Mapping[str, Any], run: Mapping[str, Any], data_source: str) -> VerlSettings:
    """Merge the row's settings with the run's (`reward_kwargs`); prompt-shaping fields must agree."""
    from_row = {name: record[name] for name in SETTINGS_FIELDS if record.get(name) is not None}
    if "method" not in from_row and "method" not in run:
        raise ValueError(
            f"{data_source}: no method: the row has no extra_info.{EXTRA_INFO_KEY}.method and the run gives "
            "none (set custom_reward_function.reward_kwargs.method, or export the data with "
            "`beyondmode export verl`)"
        )
    merged = _normalised({**from_row, **run}, data_source)
    if from_row and run:
        row_settings = _normalised(
            {**from_row, **{k: v for k, v in run.items() if k not in from_row}}, data_source
        )
        for name in PROMPT_FIELDS:
            if getattr(row_settings, name) != getattr(merged, name):
                raise ValueError(
                    f"{data_source}: reward_kwargs.{name}={getattr(merged, name)!r} contradicts the row's "
                    f"{getattr(row_settings, name)!r}: the prompts were rendered for the row's settings; "
                    "re-export the data instead"
                )
    return merged


def decode_gold(ground_truth: Any, data_source: str = "row") -> tuple[tuple[str, ...], ...]:
    """`reward_model.ground_truth` as alias tuples; accepts a string, lists, tuples or numpy arrays.

    >>> decode_gold("Paris"), decode_gold([["flu", "influenza"], "cold"])
    ((('Paris',),), (('flu', 'influenza'), ('cold',)))
    """
    value = plain_data(ground_truth)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ValueError(
            f"{data_source}: reward_model.ground_truth must be a non-empty list of answers, got {ground_truth!r}"
        )
    try:
        return as_gold(value)
    except TypeError as error:
        raise TypeError(f"{data_source}: reward_model.ground_truth: {error}") from None


def decode_mapping(value: Any, field: str, data_source: str = "row") -> dict[str, Any]:
    """A JSON-object string or a mapping (OmegaConf's included) as a plain dict ({} for empty)."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError(f"{data_source}: {field} is not valid JSON ({error})") from None
    if not isinstance(value, Mapping):
        raise ValueError(f"{data_source}: {field} must be a JSON object, got {value!r}")
    return {str(key): plain_data(item) for key, item in value.items()}


# ------------------------------------------------------------------------------------- internals
def _cached_settings(record: Mapping[str, Any], run: Mapping[str, Any], data_source: str) -> VerlSettings:
    """`resolve_settings`, memoised on the raw values (rows of one export share them); errors are not
    cached, so every bad row raises with its own data_source."""
    key = (tuple(record.get(name) for name in SETTINGS_FIELDS), tuple(sorted(run.items())))
    try:
        return _SETTINGS_CACHE[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable value (a mapping from reward_kwargs): resolve without the cache
        return resolve_settings(record, run, data_source)
    settings = resolve_settings(record, run, data_source)
    if len(_SETTINGS_CACHE) >= _SETTINGS_CACHE_SIZE:
        _SETTINGS_CACHE.clear()
    _SETTINGS_CACHE[key] = settings
    return settings


def _normalised(values: Mapping[str, Any], data_source: str) -> VerlSettings:
    fields = dict(values)
    for name in ("reward_overrides", "format_options"):
        mapping = decode_mapping(fields.get(name), name, data_source)
        fields[name] = tuple(mapping.items())
    if "num_candidates" in fields:
        fields["num_candidates"] = int(fields["num_candidates"])
    if "multi_gold" in fields:
        fields["multi_gold"] = bool(fields["multi_gold"])
    try:
        return VerlSettings(**fields)
    except ValueError as error:
        raise ValueError(f"{data_source}: {error}") from None


@functools.lru_cache(maxsize=256)
def _cached_scorer(settings: VerlSettings) -> Scorer:
    try:
        return Scorer(
            method_format(settings.method, settings.num_candidates, **dict(settings.format_options)),
            method_spec(settings.method, multi_gold=settings.multi_gold, **dict(settings.reward_overrides)),
            get_grader(settings.grader),
            RewardMode(settings.reward_mode),
        )
    except TypeError as error:  # an unknown RewardSpec / AnswerFormat field name
        raise ValueError(f"bad reward_overrides or format_options in {settings}: {error}") from None


@functools.cache
def _warn_version(field: str, found: int, current: int) -> None:
    logger.warning(
        "rows were exported with %s %d; this beyondmode scores with %d: re-export the data to be sure the "
        "prompts and rewards match",
        field,
        found,
        current,
    )


def _hashable(value: Any) -> Any:
    """A mapping (OmegaConf's DictConfig from verl's reward_kwargs) as its JSON text, so it can key caches."""
    if isinstance(value, Mapping):
        return json.dumps(plain_data(value), sort_keys=True)
    return value


def _known(value: Any, choices: list[str], field: str) -> str:
    if value not in choices:
        raise ValueError(f"unknown {field} {value!r}; choose one of {choices}")
    return str(value)
