"""RunConfig: schema, YAML, dotted overrides; bad keys and types fail naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from beyondmode.config import ConfigError, RunConfig, load_config, to_yaml


def test_defaults_and_overrides() -> None:
    config = load_config(None, ["method.method=rlcr", "trl.num_generations=4", "task.options.num_revealed=3"])
    assert isinstance(config, RunConfig)
    assert config.method.method == "rlcr"
    assert config.trl == {"num_generations": 4}
    assert config.task.options == {"num_revealed": 3}


def test_yaml_file_and_interpolation(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(
        "output: {dir: runs/x}\nmodel: {name_or_path: '${warmstart.output_dir}'}\ntrl: {beta: 0.1}\n"
    )
    config = load_config(path, ["output.save_steps=7"])
    assert config.warmstart.output_dir == "runs/x/warmstart"
    assert config.model.name_or_path == "runs/x/warmstart"
    assert (config.output.save_steps, config.trl["beta"]) == (7, 0.1)


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        (["method.num_candidatez=3"], "method.num_candidatez"),
        (["method.num_candidates=three"], "method.num_candidates"),
        (["model.tiny.hidden_size=1.5"], "model.tiny.hidden_size"),
        (["method.method=best_of_k"], "method.method"),
        (["method.reward_mode=sampled"], "method.reward_mode"),
        (["warmstart.confidence=magic"], "warmstart.confidence"),
        (["method.method=rlvr", "method.confidence_credit=token"], "method.confidence_credit"),
        (["nosection.key=1"], "nosection"),
        (["method.weights.brier=1.0"], "method.weights"),
        (["format.layout=diagonal"], "format.layout"),
        (["format.with_analysis=sometimes"], "format.with_analysis"),
        (["format.require_think=maybe"], "format.require_think"),
    ],
    ids=[
        "unknown-key",
        "wrong-type",
        "float-for-int",
        "bad-method",
        "bad-mode",
        "bad-confidence",
        "token-credit-without-confidence",
        "unknown-section",
        "unknown-weight",
        "bad-layout",
        "bad-analysis",
        "bad-think",
    ],
)
def test_bad_values_name_the_key(overrides: list[str], named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_config(None, overrides)


def test_bad_yaml_names_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("method: {methd: rlvr}\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*method\.methd"):
        load_config(path)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_to_yaml_round_trip(tmp_path: Path) -> None:
    config = load_config(None, ["method.weights.top1_weight=0.5", "trl.max_steps=3"])
    path = tmp_path / "resolved.yaml"
    path.write_text(to_yaml(config))
    assert load_config(path) == config


def test_format_keys_reach_the_answer_format() -> None:
    from beyondmode.train.recipe import answer_format

    published = (
        "<think> t </think> <answer1> flu </answer1> <confidence1> 0.6 </confidence1> <answer2> cold </answer2>"
        " <confidence2> 0.3 </confidence2> <analysis> onset was abrupt </analysis>"
    )
    default = answer_format(load_config(None, ["method.num_candidates=2"]))
    assert default.with_analysis and default.parse(published).format_ok
    off = answer_format(load_config(None, ["method.num_candidates=2", "format.with_analysis=false"]))
    assert not off.parse(published).format_ok
    split = answer_format(load_config(None, ["format.layout=split", "format.require_think=false"]))
    assert (split.layout, split.require_think) == ("split", False)
    assert not answer_format(load_config(None, ["method.method=rlvr"])).with_analysis
