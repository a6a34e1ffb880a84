"""`bench/bench_demo_ablation.py` in a folder it ran in before: earlier results stay (a rerun replaces its
own entry: lever, run, `--set`), and warm starts trained with other settings are refused."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_demo_ablation.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_demo_ablation", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _result(lever: str, run: str, settings: list[str], value: float) -> dict:
    return {"lever": lever, "run": run, "set": settings, "grpo_s": 1.0, "rows": {"x": value}}


def test_a_second_invocation_adds_to_the_first_and_replaces_only_its_own_entries(tmp_path: Path) -> None:
    merged_results = _bench().merged_results
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
    merged = _bench().merged_results(path, [_result("demo", "r", [], 0.6)], {})
    assert sorted(r["rows"]["x"] for r in merged["results"]) == [0.5, 0.6]


def test_warm_starts_of_another_set_are_stale_and_a_label_base_is_not(tmp_path: Path) -> None:
    """A folder's finished warm starts are refused when this invocation's settings would train them
    differently; the single-answer base learns from labels, so the sampling settings do not matter to it."""
    from dataclasses import replace

    from beyondmode.config import to_yaml
    from beyondmode.demo.pipeline import warmstart_jobs
    from beyondmode.demo.profiles import DemoRun, get_profile

    bench = _bench()
    profile, run = get_profile("quick"), DemoRun("multi_rlcr")
    jobs = warmstart_jobs(profile, run, tmp_path, None, None, set())
    for job in jobs:  # as if trained: each writes the config it was trained with
        folder = Path(job.args[0].warmstart.output_dir)
        folder.mkdir(parents=True)
        (folder / "config.yaml").write_text(to_yaml(job.args[0]))
    finished = {job.name for job in jobs}
    assert len(finished) >= 2 and bench.stale_warm_starts(jobs, finished) == []
    other = warmstart_jobs(replace(profile, warmstart_lists=4), run, tmp_path, None, None, set())
    stale = bench.stale_warm_starts(other, finished)
    assert stale and stale == [job.name for job in jobs if "k1-" not in job.name]
