"""Demo profiles from the command line: `--set FIELD=VALUE` typed and checked, `large` for ddx_sim only."""

from __future__ import annotations

import pytest

from beyondmode.cli import main
from beyondmode.demo.pipeline import run_config
from beyondmode.demo.profiles import DemoRun, get_profile, parse_profile_overrides


def test_overrides_are_typed_literals() -> None:
    overrides = parse_profile_overrides(
        [
            "warmstart_lists=8",
            "warmstart_shares=exact",
            "grpo_lr=1",
            "grpo_temperature=None",
            "recall_ks=(1, 3)",
        ]
    )
    assert overrides == {
        "warmstart_lists": 8,
        "warmstart_shares": "exact",
        "grpo_lr": 1.0,
        "grpo_temperature": None,
        "recall_ks": (1, 3),
    }
    assert isinstance(overrides["grpo_lr"], float)
    assert parse_profile_overrides(["scratch_warmstart_steps=1000"]) == {"scratch_warmstart_steps": 1000}
    assert parse_profile_overrides(["task_options={'num_visible': 3}"]) == {
        "task_options": {"num_visible": 3}
    }


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("warmstart_lists=eight", "field warmstart_lists: expected int, got 'eight'"),
        ("warmstart_lists=2.5", "field warmstart_lists: expected int, got '2.5'"),
        ("warmstart_lists=None", "field warmstart_lists: expected int, got 'None'"),
        ("prompting_baseline=1", "field prompting_baseline: expected bool, got '1'"),
        ("task_options=3", "field task_options: expected dict, got '3'"),
        ("warmstart_list=8", "override 'warmstart_list=8': expected FIELD=VALUE with FIELD one of"),
        ("warmstart_lists", "override 'warmstart_lists': expected FIELD=VALUE"),
        ("runs=()", "override 'runs=()'"),
    ],
)
def test_bad_overrides_name_the_field(item: str, message: str) -> None:
    with pytest.raises(ValueError, match="demo profile") as error:
        parse_profile_overrides([item])
    assert message in str(error.value)


def test_large_profile_is_the_measured_recipe_and_builds_its_configs(tmp_path) -> None:
    profile = get_profile("large")
    assert (profile.num_train, profile.scratch_warmstart_steps) == (8000, 1000)
    assert (profile.warmstart_shares, profile.warmstart_lists, profile.warmstart_steps) == ("exact", 8, 1600)
    config = run_config(profile, DemoRun("multi_rlvr"), tmp_path, None, None)
    assert config.warmstart.answer_shares == "exact" and config.warmstart.list_samples == 8
    assert config.trl["max_steps"] == 576 == 2 * get_profile("default").grpo_steps
    assert config.warmstart.steps == 1600 and config.task.max_examples == 8000
    base = run_config(profile, DemoRun("rlvr"), tmp_path, None, None)
    assert base.warmstart.steps == 1000 and base.warmstart.init == "tiny"
    with pytest.raises(ValueError, match="measured for ddx_sim only"):
        get_profile("large", task="code_sim")


def test_demo_command_reports_a_bad_override_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path
) -> None:
    assert main(["demo", "--profile", "quick", "--out", str(tmp_path), "--set", "grpo_steps=many"]) == 2
    err = capsys.readouterr().err
    assert "demo profile field grpo_steps: expected int, got 'many'" in err
    assert "Traceback" not in err and not list(tmp_path.iterdir())
    assert main(["demo", "--profile", "large", "--task", "code_sim", "--out", str(tmp_path)]) == 2
    assert "measured for ddx_sim only" in capsys.readouterr().err
