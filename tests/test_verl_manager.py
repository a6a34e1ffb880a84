"""Our `compute_score` driven through verl's own reward-manager code on a hand-built `DataProto`.

Skipped cleanly where verl is not importable (it is an optional extra: `pip install -e .[verl]`, see
docs/verl.md for what installs on a CPU machine).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

try:
    import numpy as np
    import torch
    import verl
    from verl import DataProto
    from verl.workers.reward_manager.naive import NaiveRewardManager
except ImportError as error:  # verl missing, or one of its own imports missing
    pytest.skip(f"verl is not importable here ({error}); pip install -e .[verl]", allow_module_level=True)

from beyondmode.integrations.verl import SCORE_KEYS, compute_score, export_verl
from beyondmode.methods import method_format
from beyondmode.types import Candidate, Example

pq = pytest.importorskip("pyarrow.parquet")

REPO_ROOT = Path(__file__).resolve().parents[1]
PAD = 0


class CharTokenizer:
    """One token per character (code point + 1; 0 pads): enough for a reward manager's `decode`."""

    eos_token = "\x01"
    pad_token_id = PAD

    def encode(self, text: str) -> list[int]:
        return [ord(char) + 1 for char in text]

    def decode(self, ids: Any, skip_special_tokens: bool = True) -> str:
        values = ids.tolist() if hasattr(ids, "tolist") else list(ids)
        return "".join(chr(value - 1) for value in values if value != PAD)

    def batch_decode(self, sequences: Any, skip_special_tokens: bool = True) -> list[str]:
        return [self.decode(ids, skip_special_tokens) for ids in sequences]


def build_batch(rows: list[dict[str, Any]], completions: list[str], tokenizer: CharTokenizer) -> DataProto:
    """verl's rollout output: left-padded prompts, right-padded responses, one attention mask over both."""
    prompts = [tokenizer.encode(row["prompt"][-1]["content"])[-64:] for row in rows]
    responses = [tokenizer.encode(text) for text in completions]
    prompt_width = max(len(ids) for ids in prompts)
    response_width = max(max(len(ids) for ids in responses), 1)
    prompt_ids = torch.full((len(rows), prompt_width), PAD, dtype=torch.long)
    response_ids = torch.full((len(rows), response_width), PAD, dtype=torch.long)
    mask = torch.zeros((len(rows), prompt_width + response_width), dtype=torch.long)
    for i, (prompt, response) in enumerate(zip(prompts, responses, strict=True)):
        prompt_ids[i, prompt_width - len(prompt) :] = torch.tensor(prompt)
        mask[i, prompt_width - len(prompt) : prompt_width] = 1
        if response:
            response_ids[i, : len(response)] = torch.tensor(response)
            mask[i, prompt_width : prompt_width + len(response)] = 1
    non_tensors = {
        "data_source": np.array([row["data_source"] for row in rows], dtype=object),
        "reward_model": np.array([row["reward_model"] for row in rows], dtype=object),
        "extra_info": np.array([row["extra_info"] for row in rows], dtype=object),
    }
    tensors = {
        "prompts": prompt_ids,
        "responses": response_ids,
        "input_ids": torch.cat([prompt_ids, response_ids], dim=1),
        "attention_mask": mask,
    }
    return DataProto.from_dict(tensors=tensors, non_tensors=non_tensors)


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Rows exactly as verl reads them: exported, then read back from parquet."""
    instructions = method_format("multi_rlcr", 3).instructions("Propose distinct diagnoses.")
    examples = [
        Example(
            f"ddx-{i}",
            (
                {"role": "system", "content": "Doctor."},
                {"role": "user", "content": f"{instructions} Case {i}."},
            ),
            (("influenza", "flu"), ("bronchitis",)) if i % 2 else (("pneumonia",),),
        )
        for i in range(6)
    ]
    out = tmp_path_factory.mktemp("verl")
    export = export_verl(
        examples, "multi_rlcr", 3, out_dir=out, multi_gold=True, task="ddxplus", test_fraction=0.0
    )
    return pq.read_table(export.train_path).to_pylist()


FORMAT = method_format("multi_rlcr", 3)
COMPLETIONS = [  # row 0's gold is pneumonia, row 1's influenza and bronchitis (see `rows`)
    FORMAT.render([Candidate("pneumonia", 0.9), Candidate("flu", 0.05), Candidate("cold", 0.05)], think="t"),
    FORMAT.render([Candidate("flu", 0.6), Candidate("bronchitis", 0.3), Candidate("asthma", 0.1)], think="t"),
    "<think> cut off",
    "",
    FORMAT.render([Candidate("flu", 0.6), Candidate("flu", 0.3), Candidate("flu", 0.1)], think="t"),
    "<answer1> pneumonia </answer1> <confidence1> 1.7 </confidence1>",
]


def test_naive_reward_manager_places_our_scores(rows: list[dict[str, Any]]) -> None:
    tokenizer = CharTokenizer()
    manager = NaiveRewardManager(tokenizer=tokenizer, num_examine=0, compute_score=compute_score)
    batch = build_batch(rows, COMPLETIONS, tokenizer)
    result = manager(batch, return_dict=True)
    reward_tensor, extra = result["reward_tensor"], result["reward_extra_info"]
    expected = expected_scores(rows)
    for i, (text, scores) in enumerate(zip(COMPLETIONS, expected, strict=True)):
        last = max(len(text), 1) - 1  # verl puts the sequence reward on the last response token
        assert reward_tensor[i, last].item() == pytest.approx(scores["score"])
        assert reward_tensor[i].sum().item() == pytest.approx(scores["score"])
    assert set(SCORE_KEYS) <= set(extra)
    for key in SCORE_KEYS:
        assert list(extra[key]) == [scores[key] for scores in expected]
    assert expected[0]["score"] > 1.0 and expected[1]["score"] > 1.0  # the batch has good rows
    assert expected[2]["score"] == expected[3]["score"] == 0.0  # and malformed ones


def expected_scores(rows: list[dict[str, Any]]) -> list[dict[str, float]]:
    return [
        compute_score(row["data_source"], text, row["reward_model"]["ground_truth"], row["extra_info"])
        for row, text in zip(rows, COMPLETIONS, strict=True)
    ]


def test_reward_loop_manager_of_verl_0_9(rows: list[dict[str, Any]]) -> None:
    """verl 0.9 trains through the reward loop: one `run_single` per sample, on its own event loop."""
    naive = pytest.importorskip("verl.experimental.reward_loop.reward_manager.naive", reason="verl < 0.9")
    from omegaconf import OmegaConf

    tokenizer = CharTokenizer()
    manager = naive.NaiveRewardManager(OmegaConf.create({}), tokenizer, compute_score)
    batch = build_batch(rows, COMPLETIONS, tokenizer)
    for i, scores in enumerate(expected_scores(rows)):
        result = manager.loop.run_until_complete(manager.run_single(batch[i : i + 1]))
        assert result["reward_score"] == scores["score"]
        assert result["reward_extra_info"] == scores


def test_verl_loads_our_file_from_a_shipped_config(monkeypatch: pytest.MonkeyPatch) -> None:
    reward = pytest.importorskip("verl.trainer.ppo.reward", reason="verl's trainer needs ray")
    from omegaconf import OmegaConf

    monkeypatch.delenv("BEYONDMODE_VERL_REWARD", raising=False)
    monkeypatch.chdir(REPO_ROOT)
    config = OmegaConf.load(REPO_ROOT / "configs" / "verl" / "ddxplus_multi_rlcr.yaml")
    function = reward.get_custom_reward_fn(config)
    row = {"beyondmode": {"method": "multi_rlcr", "num_candidates": 3}}
    assert function("s", COMPLETIONS[0], [["flu"], ["bronchitis"]], row) == compute_score(
        "s", COMPLETIONS[0], [["flu"], ["bronchitis"]], row, method="multi_rlcr", num_candidates=3
    )


def dotted_keys(tree: Any, prefix: str = "") -> list[str]:
    if not isinstance(tree, dict):
        return [prefix]
    return [key for name, value in tree.items() for key in dotted_keys(value, f"{prefix}{name}.")]


@pytest.mark.parametrize("name", [f"ddxplus_{m}" for m in ("rlvr", "rlcr", "multi_rlvr", "multi_rlcr")])
def test_config_keys_exist_in_verls_own_config(name: str) -> None:
    """Every key we set is one verl's full reference config (shipped in its wheel) has: no typos."""
    import yaml
    from omegaconf import OmegaConf

    reference_file = Path(verl.__file__).parent / "trainer" / "config" / "_generated_ppo_trainer.yaml"
    if not reference_file.is_file():
        pytest.skip(f"this verl ships no {reference_file.name}")
    reference = OmegaConf.to_container(OmegaConf.load(reference_file))
    ours = yaml.safe_load((REPO_ROOT / "configs" / "verl" / f"{name}.yaml").read_text())
    ours = {key: value for key, value in ours.items() if key not in ("hydra", "defaults")}
    unknown = unknown_keys(ours, reference)
    assert unknown == [], f"{name}: keys verl does not define: {unknown}"
    assert unknown_keys({"trainer": {"n_gpu_per_node": 8}}, reference) == ["trainer.n_gpu_per_node."]


def unknown_keys(ours: dict[str, Any], reference: dict[str, Any]) -> list[str]:
    known = set(dotted_keys(reference))
    return [
        key
        for key in dotted_keys(ours)
        if key not in known and not key.startswith("reward.custom_reward_function.reward_kwargs.")
    ]  # verl reads reward_kwargs with .get: any keys are fine there


def test_hydra_composes_a_config_over_verls_defaults() -> None:
    hydra = pytest.importorskip("hydra")
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(REPO_ROOT / "configs" / "verl"), version_base=None):
        config = compose(config_name="ddxplus_multi_rlcr")
    assert hydra is not None
    assert config.algorithm.adv_estimator == "grpo"
    assert config.actor_rollout_ref.rollout.n == 32
    assert config.reward.custom_reward_function.path == "pkg://beyondmode.integrations.verl"
    assert config.actor_rollout_ref.actor.ppo_mini_batch_size == 32
    assert config.data.train_files == "data/verl/ddxplus_multi_rlcr/train.parquet"


def test_verls_dataset_reads_our_files_into_the_reward_manager(tmp_path: Path) -> None:
    """verl's own `RLHFDataset` + `collate_fn` on an exported parquet, then its reward manager."""
    rl_dataset = pytest.importorskip("verl.utils.dataset.rl_dataset", reason="needs datasets and pillow")
    from omegaconf import OmegaConf

    instructions = FORMAT.instructions("Propose distinct diagnoses.")
    examples = [
        Example(f"ddx-{i}", ({"role": "user", "content": f"{instructions} Case {i}."},), (("pneumonia",),))
        for i in range(len(COMPLETIONS))
    ]
    export = export_verl(examples, "multi_rlcr", 3, out_dir=tmp_path / "data", test_fraction=0.0)
    config = OmegaConf.create(
        {"prompt_key": "prompt", "filter_overlong_prompts": False, "cache_dir": str(tmp_path / "cache")}
    )
    dataset = rl_dataset.RLHFDataset([str(export.train_path)], tokenizer=None, config=config)
    batch_dict = rl_dataset.collate_fn([dataset[i] for i in range(len(dataset))])
    assert list(batch_dict["raw_prompt"][0]) == [
        {"role": "user", "content": examples[0].prompt[0]["content"]}
    ]
    rows = [
        {"data_source": source, "reward_model": reward_model, "extra_info": extra_info, "prompt": prompt}
        for source, reward_model, extra_info, prompt in zip(
            batch_dict["data_source"],
            batch_dict["reward_model"],
            batch_dict["extra_info"],
            batch_dict["raw_prompt"],
            strict=True,
        )
    ]
    assert rows[0]["reward_model"]["ground_truth"] == [["pneumonia"]]
    tokenizer = CharTokenizer()
    result = NaiveRewardManager(tokenizer=tokenizer, num_examine=0, compute_score=compute_score)(
        build_batch(rows, COMPLETIONS, tokenizer), return_dict=True
    )
    assert list(result["reward_extra_info"]["score"]) == [
        compute_score("s", text, [["pneumonia"]], {"beyondmode": {"method": "multi_rlcr"}})["score"]
        for text in COMPLETIONS
    ]
    assert result["reward_extra_info"]["score"][0] > 1.0
