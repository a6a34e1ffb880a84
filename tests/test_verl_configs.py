"""Dry run of the shipped verl configs on CPU: they parse, the reward path resolves and imports, the data
files they name are what the exporter writes, and the reward scores a sample read back from those files."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml
from omegaconf import OmegaConf

from beyondmode.integrations.verl import compute_score, export_verl
from beyondmode.methods import Method, method_format
from beyondmode.scoring import Scorer
from beyondmode.types import Candidate, Example

pq = pytest.importorskip("pyarrow.parquet")

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO_ROOT / "configs" / "verl").glob("*.yaml"))


def test_one_config_per_method() -> None:
    assert {path.stem for path in CONFIGS} == {f"ddxplus_{method.value}" for method in Method}


@pytest.fixture(params=CONFIGS, ids=lambda path: path.stem)
def config(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> tuple[str, dict[str, Any]]:
    monkeypatch.delenv("BEYONDMODE_VERL_REWARD", raising=False)
    monkeypatch.chdir(REPO_ROOT)  # verl resolves relative paths from where it is launched
    path: Path = request.param
    yaml.safe_load(path.read_text())  # plain YAML first: a syntax error names the file
    resolved = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    assert isinstance(resolved, dict)
    return path.stem.removeprefix("ddxplus_"), resolved


def test_published_recipe(config: tuple[str, dict[str, Any]]) -> None:
    method, cfg = config
    assert cfg["defaults"] == ["ppo_trainer", "_self_"]
    assert cfg["reward"]["reward_manager"]["name"] == "naive"
    assert cfg["algorithm"]["adv_estimator"] == "grpo"
    assert cfg["actor_rollout_ref"]["actor"]["strategy"] == "fsdp"
    assert cfg["actor_rollout_ref"]["rollout"]["name"] == "vllm"
    assert cfg["actor_rollout_ref"]["rollout"]["n"] == 32
    assert cfg["reward"]["custom_reward_function"]["reward_kwargs"] == {"method": method, "num_candidates": 3}
    assert cfg["trainer"]["experiment_name"].startswith(f"ddxplus_{method}_")


def test_reward_path_resolves_and_imports_like_verl(config: tuple[str, dict[str, Any]]) -> None:
    _, cfg = config
    function = load_reward_function(cfg["reward"]["custom_reward_function"])
    assert function is compute_score


def load_reward_function(section: dict[str, Any]) -> Any:
    """verl's `load_extern_object`: `pkg://dotted.module` is imported; a file path must exist and is
    executed as a fresh module."""
    target = str(section["path"])
    if target.startswith("pkg://"):
        module = importlib.import_module(target.removeprefix("pkg://").replace("/", "."))
    else:
        path = Path(target.removeprefix("file://"))
        assert path.is_file(), f"reward path {path} does not exist (launch from the repository root)"
        spec = importlib.util.spec_from_file_location(f"custom_module_{hash(path)}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return getattr(module, section["name"])


def ddxplus_like_examples(method: str, count: int = 12) -> list[Example]:
    instructions = method_format(method, 3).instructions("Propose distinct diagnoses.")
    examples = []
    for index in range(count):
        prompt = (
            {"role": "system", "content": instructions},
            {"role": "user", "content": f"Patient {index}: fever."},
        )
        gold = (("Influenza", "flu"), ("Bronchitis",)) if index % 2 else (("Pneumonia",),)
        examples.append(Example(f"ddx-{index}", prompt, gold))
    return examples


def test_data_files_come_from_the_exporter_and_score(
    config: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    method, cfg = config
    train_file, val_file = Path(cfg["data"]["train_files"]), Path(cfg["data"]["val_files"])
    assert train_file.parent == val_file.parent == Path("data/verl") / f"ddxplus_{method}"
    export = export_verl(
        ddxplus_like_examples(method),
        method,
        3,
        out_dir=tmp_path / train_file.parent,
        multi_gold=True,
        task="ddxplus",
        test_fraction=0.3,
    )
    assert (export.train_path, export.test_path) == (tmp_path / train_file, tmp_path / val_file)
    assert cfg["data"]["prompt_key"] == "prompt" and cfg["data"]["reward_fn_key"] == "data_source"
    section = cfg["reward"]["custom_reward_function"]
    function = load_reward_function(section)
    answer_format = method_format(method, 3)
    row = pq.read_table(export.train_path).to_pylist()[0]
    sample = answer_format.render(
        [Candidate(name, 0.3) for name in [row["reward_model"]["ground_truth"][0][-1], "asthma", "covid"]][
            : answer_format.num_candidates
        ],
        think="fever and cough",
    )
    result = function(
        row["data_source"],
        sample,
        row["reward_model"]["ground_truth"],
        row["extra_info"],
        **section["reward_kwargs"],
    )
    reference = Scorer.for_method(method, 3, multi_gold=True).score(
        sample, row["reward_model"]["ground_truth"]
    )
    assert result["score"] == reference.breakdown.total > 0.5
