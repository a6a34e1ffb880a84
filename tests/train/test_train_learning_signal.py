"""The no-learning-signal warning: fed TRL-shaped logs, it warns once per window and logs a metric."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from beyondmode.train.learning_signal import METRIC, LearningSignalCallback, NoSignalWindow


def feed(callback: LearningSignalCallback, entries: list[dict[str, float]]) -> list[dict[str, float]]:
    state = SimpleNamespace(global_step=0, log_history=[])
    for step, logs in enumerate(entries, start=1):
        state.global_step = step
        state.log_history.append({**logs, "step": step})
        callback.on_log(None, state, None, logs=dict(logs))
    return state.log_history


def test_zero_variance_warns_once_per_window(caplog: pytest.LogCaptureFixture) -> None:
    callback = LearningSignalCallback(window=3, zero_std_threshold=0.8)
    with caplog.at_level(logging.WARNING, logger="beyondmode.train.learning_signal"):
        history = feed(callback, [{"frac_reward_zero_std": 1.0, "format/parse_failure": 0.2}] * 7)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2  # steps 3 and 6: at most one per window of 3 logged steps
    assert "zero reward variance" in warnings[0] and "warm start" in warnings[0]
    assert "num_generations" in warnings[0] and "method.weights" in warnings[0]
    assert [entry[METRIC] for entry in history] == [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0]


def test_parse_failure_stuck_at_one_warns() -> None:
    callback = LearningSignalCallback(window=2, zero_std_threshold=0.99)
    history = feed(callback, [{"frac_reward_zero_std": 0.5, "format/parse_failure": 1.0}] * 2)
    assert callback.warnings == 1 and history[-1][METRIC] == 1.0


def test_a_learning_run_does_not_warn(caplog: pytest.LogCaptureFixture) -> None:
    callback = LearningSignalCallback(window=2)
    entries = [
        {"frac_reward_zero_std": 1.0, "format/parse_failure": 1.0},
        {"frac_reward_zero_std": 0.25, "format/parse_failure": 0.4},  # learning starts: mean 0.625 < 0.8
        {"frac_reward_zero_std": 0.5, "format/parse_failure": 0.1},
        {"loss": 0.1},  # an entry without the signals (e.g. the final train summary) is ignored
    ]
    with caplog.at_level(logging.WARNING):
        history = feed(callback, entries)
    assert callback.warnings == 0 and not caplog.records
    assert [entry.get(METRIC) for entry in history] == [0.0, 0.0, 0.0, None]


def test_window_is_validated() -> None:
    with pytest.raises(ValueError, match="window"):
        NoSignalWindow(window=0)
