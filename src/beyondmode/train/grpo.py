"""GRPO through TRL: the config's `trl:` section goes unchanged into `GRPOConfig`, beside our dataset and
reward functions; `confidence_credit: token` swaps in the one small subclass (`train.token_credit`).

Defaults under the user's `trl:` section (the published recipe where it applies): `beta` 0 (0.1 with
token credit: the KL anchor to the warm start), `scale_rewards` "none", `temperature` 0.7,
`report_to` "none"; on a machine without CUDA, `bf16` false unless set. `output_dir`, `save_steps`,
`seed` and `reward_weights` come from our own sections (output.dir, output.save_steps, seed, the
reward functions) and may not be set in `trl:`.

Dry run (`prepare_grpo` + `validate_grpo_arguments`): builds the dataset, the reward functions and the
`GRPOConfig` arguments without loading weights. A GPU config (bf16, vLLM) cannot be instantiated as a
`GRPOConfig` on a CPU machine ("Your setup doesn't support bf16/gpu"), so validation adds
`use_cpu=True` to an otherwise identical copy: every key and value is still checked by TRL itself; the
device-dependent parts are built for real only on the training machine.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from beyondmode.config import RunConfig
from beyondmode.formats import AnswerFormat
from beyondmode.scoring import Scorer
from beyondmode.tasks.base import Task
from beyondmode.train.dataset import build_dataset, resolve_task, take_examples
from beyondmode.train.recipe import answer_format, build_scorer
from beyondmode.train.run_info import record_run
from beyondmode.train.self_labels import self_labelled_examples
from beyondmode.train.trl_rewards import build_reward_functions

logger = logging.getLogger(__name__)

DEFAULT_TRL: dict[str, Any] = {"beta": 0.0, "scale_rewards": "none", "temperature": 0.7, "report_to": "none"}
TOKEN_CREDIT_BETA = 0.1
OWNED_KEYS = {
    "output_dir": "output.dir",
    "save_steps": "output.save_steps",
    "seed": "seed",
    "reward_weights": "method (beyondmode sets the reward functions and their weights)",
}


@dataclass(frozen=True, slots=True)
class GRPOSetup:
    """Everything a GRPO run needs except the model: built in seconds, also for a dry run."""

    task: Task
    answer_format: AnswerFormat
    scorer: Scorer
    dataset: Any
    reward_functions: list[Any]
    reward_weights: list[float]
    arguments: dict[str, Any]
    token_credit: bool


def trl_arguments(config: RunConfig, reward_weights: list[float], cuda: bool) -> dict[str, Any]:
    """Our defaults <- `config.trl` <- the keys our own sections own (see the module docstring)."""
    clash = sorted(set(config.trl) & set(OWNED_KEYS))
    if clash:
        where = ", ".join(f"trl.{key} (set {OWNED_KEYS[key]} instead)" for key in clash)
        raise ValueError(f"config keys owned by beyondmode: {where}")
    arguments = dict(DEFAULT_TRL)
    arguments["model_init_kwargs"] = {"dtype": config.model.dtype}  # TRL loads the model (ZeRO-3 aware)
    if config.method.confidence_credit == "token":
        arguments["beta"] = TOKEN_CREDIT_BETA
    if not cuda and not {"bf16", "fp16", "use_cpu"} & set(config.trl):
        arguments["bf16"] = False
    if not cuda:
        arguments["dataloader_pin_memory"] = False  # pinned memory needs an accelerator
    arguments.update(config.trl)
    arguments.update(
        output_dir=config.output.dir,
        save_steps=config.output.save_steps,
        seed=config.seed,
        reward_weights=reward_weights,
    )
    return arguments


def prepare_grpo(
    config: RunConfig, task: Task | None = None, tokenizer: Any | None = None, cuda: bool | None = None
) -> GRPOSetup:
    """Dataset, reward functions and `GRPOConfig` arguments; no weights are loaded.

    `tokenizer` decides the prompt column's shape (plain string without a chat template, else chat
    messages; chat messages when None).
    """
    if cuda is None:
        import torch

        cuda = torch.cuda.is_available()
    task = task if task is not None else resolve_task(config.task)
    fmt = answer_format(config)
    scorer = build_scorer(config, task.grader, task.multi_gold)
    examples = take_examples(task, fmt, config.task.max_examples)
    if config.method.reward_mode == "expected" and not any(example.posterior for example in examples):
        raise ValueError(
            f"method.reward_mode 'expected' needs a task with an exact posterior; task {task.name!r} has none "
            "(use reward_mode 'label')"
        )
    if config.method.self_labelled_prompts and config.method.reward_mode != "label":
        raise ValueError(
            "method.self_labelled_prompts gives prompts a drawn label and no posterior: use reward_mode "
            "'label' with it"
        )
    examples += self_labelled_examples(config, fmt)
    dataset = build_dataset(examples, tokenizer)
    functions, weights = build_reward_functions(scorer, config.method.log_terms)
    arguments = trl_arguments(config, weights, cuda)
    token_credit = config.method.confidence_credit == "token"
    return GRPOSetup(task, fmt, scorer, dataset, functions, weights, arguments, token_credit)


def validate_grpo_arguments(arguments: dict[str, Any]) -> Any:
    """TRL's own check of the arguments on any machine (adds `use_cpu=True`; see the module docstring)."""
    from trl import GRPOConfig

    try:
        return GRPOConfig(**{**arguments, "use_cpu": True})
    except TypeError as error:
        raise ValueError(f"trl section: {error}") from None


def build_trainer(setup: GRPOSetup, model: Any, tokenizer: Any) -> Any:
    """A `GRPOTrainer` (or `TokenCreditGRPOTrainer`) over the setup's dataset and reward functions.

    `model` is a path (TRL loads it with `trl.model_init_kwargs`, which under DeepSpeed ZeRO-3 shards it
    while loading) or an already loaded model.
    """
    from trl import GRPOConfig, GRPOTrainer

    from beyondmode.train.learning_signal import LearningSignalCallback
    from beyondmode.train.token_credit import TokenCreditGRPOTrainer

    trainer_class = TokenCreditGRPOTrainer if setup.token_credit else GRPOTrainer
    arguments = dict(setup.arguments)
    if not isinstance(model, str):
        arguments.pop("model_init_kwargs", None)  # TRL would only warn that it ignores them
    try:
        grpo_config = GRPOConfig(**arguments)
    except TypeError as error:
        raise ValueError(f"trl section: {error}") from None
    return trainer_class(
        model=model,
        reward_funcs=setup.reward_functions,
        args=grpo_config,
        train_dataset=setup.dataset,
        processing_class=tokenizer,
        callbacks=[LearningSignalCallback()],  # warns when no group has a reward difference to learn from
    )


def preflight(config: RunConfig) -> None:
    """Fail in seconds, before any weights load: TRL checks the `trl:` section, the reward spec is built."""
    import torch

    weights = build_reward_functions(build_scorer(config, "exact_match", False), config.method.log_terms)[1]
    validate_grpo_arguments(trl_arguments(config, weights, torch.cuda.is_available()))


CHECKPOINT_PATTERN = re.compile(r"^checkpoint-(\d+)$")
TRAINER_STATE_FILE = "trainer_state.json"
MODEL_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
    "adapter_model.safetensors",
    "adapter_model.bin",
)
"""The files of which one must exist (besides the trainer state) for a checkpoint to be complete."""


def last_checkpoint(output_dir: str | Path) -> str | None:
    """The newest COMPLETE `checkpoint-<step>` folder of a run directory, or None.

    A kill while the trainer writes a checkpoint leaves a folder without its trainer state (written
    after the model) or with a truncated one; transformers' `get_last_checkpoint` would pick it and
    `--resume` would fail ("Can't find a valid checkpoint"). Such folders are skipped with a warning.
    """
    directory = Path(output_dir)
    if not directory.is_dir():
        return None
    steps = sorted(
        (
            (int(match.group(1)), path)
            for path in directory.iterdir()
            if path.is_dir() and (match := CHECKPOINT_PATTERN.match(path.name))
        ),
        reverse=True,
    )
    for _, path in steps:
        problem = checkpoint_problem(path)
        if problem is None:
            return str(path)
        logger.warning(
            "skipping incomplete checkpoint %s (%s): it was probably being written when the run stopped",
            path,
            problem,
        )
    return None


def checkpoint_problem(path: Path) -> str | None:
    """Why `path` is not a resumable checkpoint, or None when it is: a readable trainer state plus model
    weights (one of `MODEL_FILES`, FSDP's `pytorch_model_fsdp*`, or DeepSpeed's `global_step*` folder)."""
    state = path / TRAINER_STATE_FILE
    if not state.is_file():
        return f"no {TRAINER_STATE_FILE}"
    try:
        json.loads(state.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return f"unreadable {TRAINER_STATE_FILE}: {error}"
    names = [entry.name for entry in path.iterdir()]
    if any(name in MODEL_FILES for name in names):
        return None
    if any(name.startswith(("pytorch_model_fsdp", "global_step")) for name in names):
        return None
    return "no model weights"


@dataclass(frozen=True, slots=True)
class GRPOResult:
    """The final model folder (`<output.dir>/final`), the last step and TRL's log history."""

    final_dir: Path
    global_step: int
    log_history: list[dict[str, Any]]


def train_grpo(
    config: RunConfig, resume: bool = False, task: Task | None = None, quiet: bool = False
) -> GRPOResult:
    """Run GRPO as configured; with `resume`, continue from the run directory's last checkpoint.

    `quiet` drops the Trainer's console output (progress bar or printed log dicts) for callers that
    show their own progress; the log history is still returned and saved with the checkpoints.
    """
    from beyondmode.models.loading import load_tokenizer, resolve_model_path

    checkpoint = last_checkpoint(config.output.dir)
    if checkpoint and not resume:
        raise FileExistsError(
            f"{config.output.dir} already holds {Path(checkpoint).name}: pass --resume to continue that run, "
            "or choose another output.dir"
        )
    if resume and checkpoint is None:
        logger.info("no checkpoint in %s: starting from step 0", config.output.dir)
    preflight(config)
    model_path = resolve_model_path(config.model.name_or_path)
    tokenizer = load_tokenizer(model_path)
    setup = prepare_grpo(config, task, tokenizer)
    trainer = build_trainer(setup, model_path, tokenizer)
    if quiet:
        from transformers.trainer_callback import PrinterCallback, ProgressCallback

        trainer.remove_callback(PrinterCallback)
        trainer.remove_callback(ProgressCallback)
    if trainer.is_world_process_zero():
        extra = {"model": model_path, "num_examples": len(setup.dataset), "resumed_from": checkpoint}
        record_run(config.output.dir, config, "grpo", {**extra, "history": _previous_runs(config.output.dir)})
    trainer.train(resume_from_checkpoint=checkpoint)
    final = Path(config.output.dir) / "final"
    trainer.save_model(str(final))
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(str(final))
    return GRPOResult(final, trainer.state.global_step, list(trainer.state.log_history))


def _previous_runs(output_dir: str) -> list[dict[str, Any]]:
    """The earlier `run_info.json` records of this directory (a resumed run keeps them as history)."""
    path = Path(output_dir) / "run_info.json"
    if not path.is_file():
        return []
    previous = json.loads(path.read_text(encoding="utf-8"))
    return [*previous.pop("history", []), previous]
