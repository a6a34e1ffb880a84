"""`beyondmode.demo.reuse`: a folder's finished runs are reused only where this invocation would train
them with the same settings."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from beyondmode.config import to_yaml
from beyondmode.demo.pipeline import Job, _train, run_config, warmstart_jobs
from beyondmode.demo.profiles import DemoRun, get_profile
from beyondmode.demo.reuse import stale_jobs


def _store(config, folder: Path) -> None:
    """As if trained: a finished run writes the config it was trained with."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(to_yaml(config))


def _grpo_job(profile, run: DemoRun, out: Path) -> Job:
    return Job(f"grpo/{run.name}", _train, (run_config(profile, run, out, None, None),), ())


def test_warm_starts_of_another_set_are_stale_and_a_label_base_is_not(tmp_path: Path) -> None:
    """The single-answer base learns from labels, so the sampling settings do not matter to it."""
    profile, run = get_profile("quick"), DemoRun("multi_rlcr")
    jobs = warmstart_jobs(profile, run, tmp_path, None, None, set())
    for job in jobs:
        _store(job.args[0], Path(job.args[0].warmstart.output_dir))
    finished = {job.name for job in jobs}
    assert len(finished) >= 2 and stale_jobs(jobs, finished) == []
    other = warmstart_jobs(replace(profile, warmstart_lists=4), run, tmp_path, None, None, set())
    stale = stale_jobs(other, finished)
    assert stale and stale == [job.name for job in jobs if "k1-" not in job.name]


def test_a_grpo_run_of_other_grpo_settings_is_stale_and_more_eval_cases_are_not(tmp_path: Path) -> None:
    profile, run = get_profile("quick"), DemoRun("multi_rlvr")
    job = _grpo_job(profile, run, tmp_path)
    _store(job.args[0], Path(job.args[0].output.dir))
    assert stale_jobs([job], {job.name}) == []
    assert (
        stale_jobs([_grpo_job(replace(profile, num_eval=profile.num_eval + 8), run, tmp_path)], {job.name})
        == []
    )
    changed = _grpo_job(replace(profile, grpo_lr=profile.grpo_lr * 2), run, tmp_path)
    assert stale_jobs([changed], {job.name}) == [job.name]
    assert stale_jobs([changed], set()) == []  # an unfinished job is trained, not reused
