"""Training: GRPO through TRL (`grpo`), reward callables (`trl_rewards`), per-token confidence credit
(`token_credit`), the SFT warm start (`warmstart`, `warmstart_data`, `sft`), datasets (`dataset`) and
run records (`run_info`). Import the submodules; this package imports nothing heavy."""
