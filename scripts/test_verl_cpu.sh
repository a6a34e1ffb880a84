#!/usr/bin/env bash
# Drive beyondmode's compute_score through verl's own reward managers on CPU (tests/test_verl_*.py).
#
# verl lives in its own virtualenv (.venv-verl, or $VERL_VENV), never in .venv: `pip install verl` pulls
# about 80 packages (ray[default], wandb, tensorboard, peft, ...) and pins transformers < 5.11, which would
# downgrade the transformers that TRL uses in .venv. Here verl is installed WITHOUT its dependencies, plus
# the few that importing `verl`, its reward managers, its dataset and its Hydra config need (torch stays
# the CPU wheel).
# Usage: bash scripts/test_verl_cpu.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VERL_VENV:-.venv-verl}
PYTHON=${PYTHON:-python3}
VERL_SPEC=${VERL_SPEC:-verl==0.9.1}
if [ ! -f "$VENV/.installed-verl" ]; then
  test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet torch==2.13.0
  "$VENV/bin/python" -m pip install --quiet --no-deps "$VERL_SPEC"
  "$VENV/bin/python" -m pip install --quiet packaging numpy "ray>=2.41" "tensordict>=0.8,<=0.10,!=0.9.0" \
    omegaconf hydra-core "transformers>=5.5.3,<5.11,!=5.6.0" aiohttp codetiming \
    datasets pillow pyarrow pyyaml rich pytest hypothesis
  "$VENV/bin/python" -m pip install --quiet --no-deps -e .
  touch "$VENV/.installed-verl"
fi
HF_HUB_OFFLINE=1 "$VENV/bin/python" -m pytest tests/test_verl_manager.py tests/test_verl_reward.py \
  tests/test_verl_export.py tests/test_verl_configs.py "$@"
