"""GRPO that notices when it cannot learn: a `TrainerCallback` watching TRL's logs.

GRPO learns from reward differences inside a group of completions of one prompt. When every completion
of a group gets the same reward (TRL logs the fraction of such groups as `frac_reward_zero_std`), or no
completion parses (`format/parse_failure` = 1, so every reward is 0), the advantages are 0, the loss
and the gradient are 0, and the run "trains" without changing the model. `LearningSignalCallback`
looks at the last `window` logged steps; when the mean `frac_reward_zero_std` is at least
`zero_std_threshold`, or `format/parse_failure` was 1 on every one of them, it logs a
`logging.warning` that names the fix (once per window: at most one warning per `window` logged
steps) and adds `learning_signal/no_signal` (1 when the window has no signal, else 0) to the step's
log entry (`trainer.state.log_history`). `build_trainer` adds it to every GRPO run.

>>> window = NoSignalWindow(window=2, zero_std_threshold=0.8)
>>> window.add({"frac_reward_zero_std": 1.0, "format/parse_failure": 1.0})
>>> window.reason() is None  # the window is not full yet
True
>>> window.add({"frac_reward_zero_std": 0.9, "format/parse_failure": 1.0})
>>> window.reason()
'no completion parses (format/parse_failure 1.00) and 95% of groups have zero reward variance'
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping
from typing import Any

from transformers import TrainerCallback

logger = logging.getLogger(__name__)

ZERO_STD_KEY = "frac_reward_zero_std"
PARSE_FAILURE_KEY = "format/parse_failure"
METRIC = "learning_signal/no_signal"
FIX = (
    "GRPO has nothing to learn from: run the format warm start first (`beyondmode warmstart`), use a "
    "larger group (trl.num_generations) or a higher trl.temperature, or give the format term more "
    "weight (method.weights)"
)


class NoSignalWindow:
    """The last `window` logged values of the two signals, and whether they say "cannot learn"."""

    def __init__(self, window: int = 5, zero_std_threshold: float = 0.8) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.window = window
        self.zero_std_threshold = zero_std_threshold
        self.zero_std: deque[float] = deque(maxlen=window)
        self.parse_failure: deque[float] = deque(maxlen=window)

    def add(self, logs: Mapping[str, Any]) -> None:
        if ZERO_STD_KEY in logs:
            self.zero_std.append(float(logs[ZERO_STD_KEY]))
        if PARSE_FAILURE_KEY in logs:
            self.parse_failure.append(float(logs[PARSE_FAILURE_KEY]))

    def reason(self) -> str | None:
        """Why the last `window` steps had no learning signal, or None (also while the window fills)."""
        reasons = []
        if len(self.parse_failure) == self.window and min(self.parse_failure) >= 1.0:
            reasons.append(f"no completion parses ({PARSE_FAILURE_KEY} {min(self.parse_failure):.2f})")
        if len(self.zero_std) == self.window:
            mean = sum(self.zero_std) / self.window
            if mean >= self.zero_std_threshold:
                reasons.append(f"{100 * mean:.0f}% of groups have zero reward variance")
        return " and ".join(reasons) or None


class LearningSignalCallback(TrainerCallback):
    """Warn (once per window) and log `learning_signal/no_signal` when GRPO gets no learning signal."""

    def __init__(self, window: int = 5, zero_std_threshold: float = 0.8) -> None:
        self.signals = NoSignalWindow(window, zero_std_threshold)
        self.quiet_until = -1  # logged-step count before which no new warning is given
        self.logged = 0
        self.warnings = 0

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if not logs or (ZERO_STD_KEY not in logs and PARSE_FAILURE_KEY not in logs):
            return
        self.signals.add(logs)
        self.logged += 1
        reason = self.signals.reason()
        logs[METRIC] = 0.0 if reason is None else 1.0
        if state.log_history and state.log_history[-1].get("step") == state.global_step:
            state.log_history[-1][METRIC] = logs[METRIC]  # the Trainer stored its copy before callbacks
        if reason is not None and self.logged >= self.quiet_until:
            self.warnings += 1
            self.quiet_until = self.logged + self.signals.window
            logger.warning(
                "step %d: %s over the last %d logged steps. %s.",
                state.global_step,
                reason,
                self.signals.window,
                FIX,
            )
