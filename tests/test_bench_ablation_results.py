"""`bench/bench_demo_ablation.py` in a folder it ran in before: earlier results stay (a rerun replaces its
own entry: lever, run, `--set`). Refusing runs trained with other settings: tests/test_demo_reuse.py."""

from __future__ import annotations

import json
from pathlib import Path

from bench_module import load_bench

merged_results = load_bench("bench_demo_ablation").merged_results


def _result(lever: str, run: str, settings: list[str], value: float) -> dict:
    return {"lever": lever, "run": run, "set": settings, "grpo_s": 1.0, "rows": {"x": value}}


def test_a_second_invocation_adds_to_the_first_and_replaces_only_its_own_entries(tmp_path: Path) -> None:
    path = tmp_path / "ablation.json"
    first = [_result("demo", "multi_rlvr-k3-s1", [], 0.1), _result("demo", "multi_rlvr-k3-s2", [], 0.2)]
    path.write_text(json.dumps(merged_results(path, first, {"grpo/a": 1.0})))
    second = [_result("demo", "multi_rlvr-k3-s2", [], 0.3), _result("demo", "multi_rlvr-k3-s2", ["x=1"], 0.4)]
    merged = merged_results(path, second, {"grpo/b": 2.0})
    values = {(r["run"], tuple(r["set"])): r["rows"]["x"] for r in merged["results"]}
    assert values == {
        ("multi_rlvr-k3-s1", ()): 0.1,
        ("multi_rlvr-k3-s2", ()): 0.3,
        ("multi_rlvr-k3-s2", ("x=1",)): 0.4,
    }
    assert merged["timings_s"] == {"grpo/a": 1.0, "grpo/b": 2.0}


def test_a_file_of_the_earlier_layout_keeps_its_top_level_settings(tmp_path: Path) -> None:
    path = tmp_path / "ablation.json"
    old = {"set": ["num_train=8000"], "results": [{"lever": "demo", "run": "r", "rows": {"x": 0.5}}]}
    path.write_text(json.dumps(old))
    merged = merged_results(path, [_result("demo", "r", [], 0.6)], {})
    assert sorted(r["rows"]["x"] for r in merged["results"]) == [0.5, 0.6]
