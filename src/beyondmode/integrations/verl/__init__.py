"""verl adapter: the reward entry point and the parquet exporter (see docs/verl.md).

Point verl at THIS file; it re-exports `compute_score` from an importable module, so the function
verl loads pickles by reference into Ray workers:

    custom_reward_function.path=$(python -c 'import beyondmode.integrations.verl as m; print(m.__file__)')
    custom_reward_function.name=compute_score

>>> result = compute_score("demo", "<think> - </think> <answer> Paris </answer>", ["paris"],
...                        {"beyondmode": {"method": "rlvr"}})
>>> result["score"], result["any_hit"]
(1.0, 1.0)
"""

from beyondmode.integrations.verl.dataset import VerlExport, export_verl, verl_row, verl_schema
from beyondmode.integrations.verl.reward import (
    EXTRA_INFO_KEY,
    SCORE_KEYS,
    VerlSettings,
    compute_score,
    compute_score_batch,
)

__all__ = [
    "EXTRA_INFO_KEY",
    "SCORE_KEYS",
    "VerlExport",
    "VerlSettings",
    "compute_score",
    "compute_score_batch",
    "export_verl",
    "verl_row",
    "verl_schema",
]
