"""The demo end to end on the quick profile: every report file, a complete summary, same seed -> same numbers."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from beyondmode.demo.goals import goals_for
from beyondmode.demo.pipeline import run_demo
from beyondmode.demo.profiles import DemoRun, get_profile

pytestmark = pytest.mark.slow

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("demo")
    profile = get_profile("quick")
    first = run_demo(profile, root, run_name="first")  # two worker processes
    second = run_demo(replace(profile, workers=1), root, run_name="second")  # in-process
    return first.run_dir, second.run_dir


def test_quick_profile_writes_the_report_and_a_complete_summary(quick_runs: tuple[Path, Path]) -> None:
    run_dir, _ = quick_runs
    for name in ("report.md", "report.html", "demo_summary.json", "profile.json"):
        assert (run_dir / name).is_file(), name
    plots = sorted((run_dir / "plots").glob("*.png"))
    assert {"recall_at_k.png", "distinct.png", "reliability.png", "cost.png"} <= {p.name for p in plots}
    assert all(p.read_bytes().startswith(PNG) for p in plots)
    summary = json.loads((run_dir / "demo_summary.json").read_text())
    runs = get_profile("quick").runs
    expected = {f"{run.name}/{m}" for run in runs for m in _methods(run)}
    expected |= {f"warmstart-{run.warmstart_key}/{m}" for run in runs for m in _methods(run)}
    assert set(summary["runs"]) == expected
    assert summary["oracle"]["recall@3"] > 0
    for run in runs:
        goals = goals_for(run.name)
        assert set(summary["targets"].get(run.name, {})) == set(goals), run.name
    assert {"multi_rlvr-k3-s0", "multi_rlcr-k3-s0", "multi_rlcr_token-k3-s0", "rlvr-s0"} <= set(
        summary["targets"]
    )
    assert summary["total_s"] > 0 and all(t > 0 for t in summary["timings_s"].values())
    html = (run_dir / "report.html").read_text()
    assert "Summary" in html and "held-out simulated patients" in html
    assert "What RL added" in html and "warm start" in html
    for run in runs:
        assert (run_dir / "eval" / run.name / "summary.json").is_file()
        assert (run_dir / "eval" / f"warmstart-{run.warmstart_key}" / "summary.json").is_file()
        assert (run_dir / "train" / run.name / "final" / "config.json").is_file()


def test_rl_gain_rows_are_complete_and_paired_with_the_warm_start(quick_runs: tuple[Path, Path]) -> None:
    summary = json.loads((quick_runs[0] / "demo_summary.json").read_text())
    rows = summary["rl_gain"]
    keys = {"run", "task", "metric", "warm_start", "after_rl", "delta", "ci_low", "ci_high", "oracle"}
    for run in get_profile("quick").runs:
        metrics = {row["metric"]: row for row in rows if row["run"] == run.name}
        required = {"expected_recall@3", "recall@3", "distinct@6", "top1"}
        required |= {"auroc"} if run.with_confidence else set()
        assert required <= set(metrics), run.name
        for metric, row in metrics.items():
            assert keys <= set(row) and row["task"] == "ddx_sim"
            if row["warm_start"] is None or row["after_rl"] is None:
                continue
            assert row["delta"] == pytest.approx(row["after_rl"] - row["warm_start"], abs=1e-9), metric
            assert row["ci_low"] <= row["delta"] + 1e-9 and row["delta"] <= row["ci_high"] + 1e-9, metric
        assert metrics["expected_recall@3"]["oracle"] >= metrics["expected_recall@3"]["after_rl"]
        assert metrics["distinct@6"]["oracle"] is None


def test_held_out_prompts_are_disjoint_from_training_prompts(quick_runs: tuple[Path, Path]) -> None:
    from beyondmode.demo.pipeline import eval_task_options, task_options
    from beyondmode.formats import AnswerFormat
    from beyondmode.tasks.registry import get_task

    profile = get_profile("quick")
    fmt = AnswerFormat(num_candidates=3)
    for seed in (0, 1):  # each seed trains on its own cases and has its own held-out set
        train = get_task("ddx_sim", **task_options(profile, seed, profile.num_train, None, None))
        held_out = get_task("ddx_sim", **eval_task_options(profile, None, None, seed))
        train_prompts = {json.dumps(e.prompt) for e in train.examples(fmt)}
        held = list(held_out.examples(fmt))
        assert len(held) == profile.num_eval and not {json.dumps(e.prompt) for e in held} & train_prompts
    assert eval_task_options(profile, None, None) == eval_task_options(profile, None, None, 0)


def test_each_seeds_runs_are_evaluated_on_their_own_held_out_set(tmp_path: Path, monkeypatch) -> None:
    """One held-out set for every seed shared a quarter of its prompts with seed 1's training cases."""
    from beyondmode.demo import pipeline
    from beyondmode.evaluate import runner
    from beyondmode.evaluate.backends import transformers_backend

    seen = []
    monkeypatch.setattr(transformers_backend.TransformersBackend, "from_pretrained", lambda *a, **k: None)
    monkeypatch.setattr(runner, "run_evaluation", lambda task, *a, **k: seen.append(task.exclude_seed))
    profile = get_profile("quick")
    for seed in (0, 2):
        pipeline._evaluate(profile, DemoRun("multi_rlvr", seed), tmp_path, tmp_path, None, None)
    assert seen == [0, 2]
    unlabelled = pipeline.run_config(
        replace(profile, warmstart_unlabelled=5), DemoRun("multi_rlvr", 2), tmp_path, None, None
    ).warmstart.unlabelled
    assert unlabelled.options["exclude_seed"] == 2


def test_same_seed_same_numbers(quick_runs: tuple[Path, Path]) -> None:
    """Two worker processes or one: the same numbers (every job seeds itself)."""
    first, second = (json.loads((d / "demo_summary.json").read_text()) for d in quick_runs)
    for key in ("oracle", "targets", "spread", "rl_gain"):
        assert first[key] == second[key], key
    assert _without_wall_clock(first["runs"]) == _without_wall_clock(second["runs"])
    rows = [(d / "eval" / "multi_rlcr-k3-s0" / "rows.jsonl").read_text().splitlines() for d in quick_runs]
    strip = [[{k: v for k, v in json.loads(r).items() if "seconds" not in k} for r in run] for run in rows]
    assert strip[0] == strip[1]


def _without_wall_clock(runs: dict) -> dict:
    return {name: {k: v for k, v in row.items() if not k.startswith("seconds")} for name, row in runs.items()}


def _methods(run: DemoRun) -> tuple[str, ...]:
    if run.is_multi:
        return ("multi_answer",)
    return ("best_of_k", "greedy")


def test_run_config_takes_extra_overrides_last(tmp_path: Path) -> None:
    """The adaptive-K bench builds its runs as the demo's with the "up to K" format and a cost."""
    from beyondmode.demo.pipeline import run_config
    from beyondmode.train.recipe import answer_format, reward_spec

    extra = ("format.min_candidates=1", "method.weights.answer_cost=0.25", "trl.max_steps=5")
    config = run_config(get_profile("quick"), DemoRun("multi_rlvr"), tmp_path, None, None, extra)
    assert answer_format(config).fewest_candidates == 1 and config.trl["max_steps"] == 5
    assert reward_spec(config, multi_gold=False).answer_cost == 0.25
    with pytest.raises(ValueError, match="answer_cost"):
        reward_spec(
            run_config(
                get_profile("quick"),
                DemoRun("multi_rlvr"),
                tmp_path,
                None,
                None,
                ("method.weights.answer_cost=1.5",),
            ),
            multi_gold=False,
        )


def test_warmstart_examples_limit_only_the_warm_start(tmp_path: Path) -> None:
    from beyondmode.demo.pipeline import run_config, warmstart_config

    profile = replace(get_profile("quick"), warmstart_examples=50)
    config = run_config(profile, DemoRun("multi_rlvr"), tmp_path, None, None)
    assert warmstart_config(profile, config).task.max_examples == 50
    assert config.task.max_examples == profile.num_train  # GRPO sees every training case
    with pytest.raises(ValueError, match="warmstart_examples"):
        warmstart_config(replace(profile, warmstart_examples=10**6), config)


def test_continued_warm_start_settings_leave_the_base_alone(tmp_path: Path) -> None:
    """`continued_warmstart_lr` and `warmstart_label_replay` reach the K-answer warm starts that
    continue from the single-answer base, never the base itself."""
    from beyondmode.demo.pipeline import run_config

    profile = replace(get_profile("quick"), continued_warmstart_lr=3e-4, warmstart_label_replay=0.25)
    base = run_config(profile, DemoRun("rlvr"), tmp_path, None, None).warmstart
    multi = run_config(profile, DemoRun("multi_rlcr"), tmp_path, None, None).warmstart
    assert (base.learning_rate, base.label_replay) == (profile.warmstart_lr, 0.0)
    assert (multi.learning_rate, multi.label_replay) == (3e-4, 0.25)
    default = run_config(get_profile("quick"), DemoRun("multi_rlcr"), tmp_path, None, None).warmstart
    assert (default.learning_rate, default.label_replay) == (profile.warmstart_lr, 0.0)
    assert (default.unlabelled, base.unlabelled) == (None, None)


def test_unlabelled_prompts_avoid_the_training_and_held_out_prompts(tmp_path: Path) -> None:
    from beyondmode.demo.pipeline import eval_task_options, run_config, task_options
    from beyondmode.tasks.registry import get_task
    from beyondmode.train.recipe import answer_format
    from beyondmode.train.unlabelled_prompts import prompt_key, unlabelled_examples

    profile = replace(get_profile("quick"), warmstart_unlabelled=30)
    config = run_config(profile, DemoRun("multi_rlvr"), tmp_path, None, None)
    assert run_config(profile, DemoRun("rlvr"), tmp_path, None, None).warmstart.unlabelled is None
    fmt = answer_format(config)
    unlabelled = unlabelled_examples(config.warmstart.unlabelled, config.warmstart.unlabelled_skip, fmt)
    held_out = get_task(profile.task, **eval_task_options(profile, None, None)).examples(fmt)
    training = get_task(profile.task, **task_options(profile, 0, profile.num_train, None, None)).examples(fmt)
    keys = {prompt_key(e) for e in unlabelled}
    assert len(unlabelled) == 30
    assert not keys & {prompt_key(e) for e in held_out}
    assert not keys & {prompt_key(e) for e in training}
    assert config.method.self_labelled_prompts == 0


def test_grpo_takes_the_self_labelled_prompts_of_the_multi_answer_runs_only(tmp_path: Path) -> None:
    from beyondmode.demo.pipeline import run_config

    profile = replace(get_profile("quick"), warmstart_unlabelled=30, rl_self_labelled=20)
    assert run_config(profile, DemoRun("multi_rlcr"), tmp_path, None, None).method.self_labelled_prompts == 20
    assert run_config(profile, DemoRun("rlvr"), tmp_path, None, None).method.self_labelled_prompts == 0
    with pytest.raises(ValueError, match=r"rl_self_labelled must be in 0\.\.warmstart_unlabelled \(30\)"):
        run_config(replace(profile, rl_self_labelled=31), DemoRun("multi_rlcr"), tmp_path, None, None)


def test_multi_answer_warm_starts_sample_the_single_answer_warm_start(tmp_path: Path) -> None:
    """The self-consistency warm starts continue from RLVR's starting point (trained once), also when
    the profile has no single-answer run; only the runs' own warm starts are evaluated."""
    from beyondmode.demo.pipeline import demo_jobs

    profile = get_profile("quick")
    jobs = {job.name: job for job in demo_jobs(profile, tmp_path, None, None)[0]}
    for key in ("k3-noconf-s0", "k3-conf-s0"):
        config = jobs[f"warmstart/{key}"].args[0]
        assert config.warmstart.init == str(tmp_path / "warmstart" / "k1-noconf-s0")
        assert config.warmstart.base_steps == 0 and config.warmstart.sample_prompt == "format"
    # the format with confidences reuses the samples of the one without (same base, prompts and seed)
    assert jobs["warmstart/k3-noconf-s0"].needs == ("warmstart/k1-noconf-s0",)
    assert jobs["warmstart/k3-noconf-s0"].args[0].warmstart.samples_from is None
    assert jobs["warmstart/k3-conf-s0"].needs == ("warmstart/k1-noconf-s0", "warmstart/k3-noconf-s0")
    assert jobs["warmstart/k3-conf-s0"].args[0].warmstart.samples_from == str(
        tmp_path / "warmstart" / "k3-noconf-s0"
    )
    assert jobs["warmstart/k1-noconf-s0"].args[0].warmstart.init == "tiny"
    assert jobs["warmstart/k1-conf-s0"].needs == ()
    assert {job.args[0].warmstart.answer_shares for job in jobs.values() if job.name.startswith("warm")} == {
        "sampled"
    }
    exact = {
        job.name: job
        for job in demo_jobs(replace(profile, warmstart_shares="exact"), tmp_path, None, None)[0]
    }
    assert exact["warmstart/k3-noconf-s0"].args[0].warmstart.answer_shares == "exact"
    assert {job.args[0].warmstart.list_samples for job in jobs.values() if job.name.startswith("warm")} == {1}
    lists = {
        job.name: job.args[0].warmstart
        for job in demo_jobs(
            replace(profile, warmstart_lists=8, warmstart_list_temperature=0.3), tmp_path, None, None
        )[0]
        if job.name.startswith("warmstart/")
    }
    assert (lists["warmstart/k3-conf-s0"].list_samples, lists["warmstart/k3-conf-s0"].list_temperature) == (
        8,
        0.3,
    )
    longer = replace(profile, scratch_warmstart_steps=profile.warmstart_steps + 7)
    warm_jobs = [
        job for job in demo_jobs(longer, tmp_path, None, None)[0] if job.name.startswith("warmstart/")
    ]
    steps = {job.name: job.args[0].warmstart.steps for job in warm_jobs}
    assert steps["warmstart/k1-noconf-s0"] == profile.warmstart_steps + 7  # the base, from scratch
    assert steps["warmstart/k3-noconf-s0"] == profile.warmstart_steps  # continues from the base

    alone = replace(profile, runs=(DemoRun("multi_rlvr"), DemoRun("rlvr")))
    names = [job.name for job in demo_jobs(alone, tmp_path, None, None)[0]]
    assert names.index("warmstart/k1-noconf-s0") < names.index("warmstart/k3-noconf-s0")
    assert names.count("warmstart/k1-noconf-s0") == 1 and names.count("eval/warmstart-k1-noconf-s0") == 1
    conf_only = [
        job.name
        for job in demo_jobs(replace(profile, runs=(DemoRun("multi_rlcr"),)), tmp_path, None, None)[0]
    ]
    assert conf_only.index("warmstart/k3-noconf-s0") < conf_only.index("warmstart/k3-conf-s0")
    assert "eval/warmstart-k3-noconf-s0" not in conf_only
    only_multi = [
        job.name
        for job in demo_jobs(replace(profile, runs=(DemoRun("multi_rlvr"),)), tmp_path, None, None)[0]
    ]
    assert "warmstart/k1-noconf-s0" in only_multi and "eval/warmstart-k1-noconf-s0" not in only_multi
    uniform = replace(profile, warmstart_confidence="uniform")
    assert all(
        not job.needs for job in demo_jobs(uniform, tmp_path, None, None)[0] if job.name.startswith("warm")
    )


@pytest.fixture(scope="module")
def code_sim_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    profile = get_profile("quick", task="code_sim", workers=1)
    return run_demo(profile, tmp_path_factory.mktemp("demo_code_sim"), run_name="code_sim").run_dir


def test_code_sim_demo_reports_each_run_beside_its_warm_start_and_best_of_k(code_sim_run: Path) -> None:
    """`beyondmode demo --task code_sim`: RLVR, Multi-RLVR, Multi-RLCR, every program run in the sandbox."""
    summary = json.loads((code_sim_run / "demo_summary.json").read_text())
    profile = get_profile("quick", task="code_sim")
    assert summary["task"] == "code_sim"
    assert [run.name for run in profile.runs] == ["rlvr-s0", "multi_rlvr-k3-s0", "multi_rlcr-k3-s0"]
    assert summary["oracle"]["recall@3"] > summary["oracle"]["top1"] > 0
    for run in profile.runs:
        metrics = {row["metric"]: row for row in summary["rl_gain"] if row["run"] == run.name}
        assert {"expected_recall@3", "coverage@3", "recall@3", "distinct@6", "top1"} <= set(metrics)
        assert all(row["task"] == "code_sim" for row in metrics.values())
        assert metrics["expected_recall@3"]["oracle"] == pytest.approx(summary["oracle"]["expected_recall@3"])
    versus = {(row["run"], row["metric"]) for row in summary["versus_best_of_k"]}
    assert versus == {(run, metric) for run in ("multi_rlvr-k3-s0", "multi_rlcr-k3-s0") for metric in
                      ("recall@3", "expected_recall@3")}  # fmt: skip
    # the single-answer warm start learned each case's reference program (one that passes its tests)
    from beyondmode.demo.pipeline import task_options
    from beyondmode.formats import AnswerFormat
    from beyondmode.tasks.registry import get_task

    single = AnswerFormat(num_candidates=1, with_confidence=False)
    cases = get_task("code_sim", **task_options(profile, 0, profile.num_train, None, None)).examples(single)
    pairs = (code_sim_run / "warmstart" / "k1-noconf-s0" / "pairs.jsonl").read_text().splitlines()[1:]
    answers = [single.parse(json.loads(line)["completion"]).candidates[0].text for line in pairs]
    assert answers == [case.metadata["program"] for case in cases]
    html = (code_sim_run / "report.html").read_text()
    assert "program-synthesis" in html and "One K=3 generation against RLVR best-of-3" in html


def test_demo_task_choices_are_checked() -> None:
    with pytest.raises(ValueError, match="code_sim"):
        get_profile("quick", task="mbpp")
    assert (
        get_profile("default", task="code_sim").max_completion_length
        > get_profile("default").max_completion_length
    )
