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


COMPLETIONS = [
    method_format("multi_rlcr", 3).render(
        [Candidate("flu", 0.6), Candidate("bronchitis", 0.3), Candidate("asthma", 0.1)], think="t"
    ),
    method_format("multi_rlcr", 3).render(
        [Candidate("pneumonia", 0.9), Candidate("flu", 0.05), Candidate("cold", 0.05)], think="t"
    ),
    "<think> cut off",
    "",
    method_format("multi_rlcr", 3).render(
        [Candidate("flu", 0.6), Candidate("flu", 0.3), Candidate("flu", 0.1)], think="t"
    ),
    "<answer1> pneumonia </answer1> <confidence1> 1.7 </confidence1>",
]


def test_naive_reward_manager_places_our_scores(rows: list[dict[str, Any]]) -> None:
    tokenizer = CharTokenizer()
    manager = NaiveRewardManager(tokenizer=tokenizer, num_examine=0, compute_score=compute_score)
    batch = build_batch(rows, COMPLETIONS, tokenizer)
    result = manager(batch, return_dict=True)
    reward_tensor, extra = result["reward_tensor"], result["reward_extra_info"]
    expected = [
        compute_score(row["data_source"], text, row["reward_model"]["ground_truth"], row["extra_info"])
        for row, text in zip(rows, COMPLETIONS, strict=True)
    ]
    for i, (text, scores) in enumerate(zip(COMPLETIONS, expected, strict=True)):
        last = max(len(text), 1) - 1  # verl puts the sequence reward on the last response token
        assert reward_tensor[i, last].item() == pytest.approx(scores["score"])
        assert reward_tensor[i].sum().item() == pytest.approx(scores["score"])
    assert set(SCORE_KEYS) <= set(extra)
    for key in SCORE_KEYS:
        assert list(extra[key]) == [scores[key] for scores in expected]
    assert expected[0]["score"] > 1.0 and expected[2]["score"] == 0.0  # the batch has good and bad rows


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
