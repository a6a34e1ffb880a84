"""Transformers and scripted backends: shapes, token counts, chat template vs plain prompts, errors."""

from __future__ import annotations

import pytest

from beyondmode.evaluate.backends.scripted import ScriptedBackend

PROMPTS = [
    [{"role": "system", "content": "name the animal"}, {"role": "user", "content": "which pet meows?"}],
    [{"role": "user", "content": "name a canid."}],
]


def test_scripted_backend_counts_whitespace_tokens() -> None:
    backend = ScriptedBackend(lambda prompt, index: f"<answer> cat{index} </answer>")
    out = backend.generate(PROMPTS, n=3, temperature=0.7, max_new_tokens=8, seed=0)
    assert [len(samples) for samples in out] == [3, 3]
    assert out[1][2].text == "<answer> cat2 </answer>" and out[1][2].num_tokens == 3


@pytest.mark.parametrize(
    ("prompts", "n", "temperature", "message"),
    [
        (PROMPTS, 0, 0.7, "n must be"),
        (PROMPTS, 1, -1.0, "temperature"),
        ([[{"content": "no role"}]], 1, 0.7, "prompt 0"),
    ],
)
def test_bad_requests_raise(prompts, n, temperature, message) -> None:
    backend = ScriptedBackend(lambda prompt, index: "")
    with pytest.raises(ValueError, match=message):
        backend.generate(prompts, n=n, temperature=temperature, max_new_tokens=8, seed=0)


def test_transformers_backend_generates_n_per_prompt(tiny_model_dir) -> None:
    from beyondmode.evaluate.backends.transformers_backend import TransformersBackend

    backend = TransformersBackend.from_pretrained(tiny_model_dir, device="cpu", batch_size=1)
    out = backend.generate(PROMPTS, n=2, temperature=1.0, max_new_tokens=6, seed=0)
    assert [len(samples) for samples in out] == [2, 2]
    for generation in (g for samples in out for g in samples):
        assert 1 <= generation.num_tokens <= 6 and generation.seconds > 0
        # a whitespace tokenizer: the decoded text re-tokenizes to at most the generated count
        assert len(generation.text.split()) <= generation.num_tokens


def test_transformers_greedy_is_deterministic(tiny_model_dir) -> None:
    from beyondmode.evaluate.backends.transformers_backend import TransformersBackend

    backend = TransformersBackend.from_pretrained(tiny_model_dir, device="cpu")
    first = backend.generate(PROMPTS, n=1, temperature=0.0, max_new_tokens=5, seed=1)
    second = backend.generate(PROMPTS, n=1, temperature=0.0, max_new_tokens=5, seed=2)
    assert [s[0].text for s in first] == [s[0].text for s in second]


def test_chat_template_used_when_present_else_plain(tiny_model_dir, tmp_path) -> None:
    from eval_tiny import build_tiny_model

    from beyondmode.evaluate.backends.transformers_backend import TransformersBackend

    templated = TransformersBackend.from_pretrained(tiny_model_dir, device="cpu")
    assert templated.render(PROMPTS[0]) == "system: name the animal\nuser: which pet meows?\nassistant:"
    plain_dir = build_tiny_model(tmp_path / "plain", chat_template=False)
    plain = TransformersBackend.from_pretrained(plain_dir, device="cpu")
    assert not getattr(plain.tokenizer, "chat_template", None)
    # the prompt training used for a tokenizer without a chat template (beyondmode.models.tiny)
    assert plain.render(PROMPTS[1]) == "name a canid.\n"  # no BOS token in this vocabulary


def test_project_tiny_model_gets_the_training_prompt(tmp_path) -> None:
    """A model from `beyondmode.models.tiny` (what training saves) is prompted exactly as in training."""
    pytest.importorskip("torch")
    from beyondmode.evaluate.backends.transformers_backend import TransformersBackend
    from beyondmode.models import tiny

    tokenizer = tiny.build_word_tokenizer(["name a canid. <answer> fox </answer>"])
    model = tiny.build_tiny_model(tiny.TinyModelSpec(), tokenizer)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    backend = TransformersBackend.from_pretrained(tmp_path, device="cpu")
    assert backend.render(PROMPTS[1]) == tiny.plain_prompt(PROMPTS[1], tokenizer) == "<s> name a canid.\n"
    (samples,) = backend.generate([PROMPTS[1]], n=2, temperature=1.0, max_new_tokens=3, seed=0)
    assert all(1 <= g.num_tokens <= 3 for g in samples)


def test_missing_model_directory_is_named(tmp_path) -> None:
    pytest.importorskip("transformers")
    from beyondmode.evaluate.backends.transformers_backend import TransformersBackend

    with pytest.raises(FileNotFoundError, match="nowhere"):
        TransformersBackend.from_pretrained(tmp_path / "nowhere")


def test_vllm_backend_explains_missing_package() -> None:
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    from beyondmode.evaluate.backends.vllm_backend import VLLMBackend

    with pytest.raises(ImportError, match="pip install vllm"):
        VLLMBackend("some/model")


def test_evaluation_imports_leave_torch_out() -> None:
    import subprocess
    import sys

    code = (
        "import sys, beyondmode.evaluate, beyondmode.report, beyondmode.evaluate.runner;"
        "print(sorted(m for m in ('torch', 'transformers', 'vllm', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.gpu
def test_transformers_backend_on_cuda(tiny_model_dir) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    from beyondmode.evaluate.backends.transformers_backend import TransformersBackend

    backend = TransformersBackend.from_pretrained(tiny_model_dir, device="cuda")
    out = backend.generate(PROMPTS, n=3, temperature=0.7, max_new_tokens=6, seed=0)
    assert [len(s) for s in out] == [3, 3] and all(1 <= g.num_tokens <= 6 for s in out for g in s)


@pytest.mark.gpu
def test_vllm_backend_on_gpu(tiny_model_dir) -> None:
    pytest.importorskip("vllm")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    from beyondmode.evaluate.backends.vllm_backend import VLLMBackend

    backend = VLLMBackend(tiny_model_dir, gpu_memory_utilization=0.2, enforce_eager=True)
    out = backend.generate(PROMPTS, n=2, temperature=0.7, max_new_tokens=6, seed=0)
    assert [len(s) for s in out] == [2, 2] and all(1 <= g.num_tokens <= 6 for s in out for g in s)


def test_transformers_samples_do_not_depend_on_the_batch(tiny_model_dir) -> None:
    """Sample j of a prompt comes from its own seed: alone or beside another prompt, the same text."""
    from beyondmode.evaluate.backends.transformers_backend import TransformersBackend

    backend = TransformersBackend.from_pretrained(tiny_model_dir, device="cpu")
    both = backend.generate(PROMPTS, n=3, temperature=1.0, max_new_tokens=8, seed=[11, 22])
    alone = backend.generate([PROMPTS[1]], n=3, temperature=1.0, max_new_tokens=8, seed=[22])
    shifted = backend.generate([PROMPTS[1]], n=2, temperature=1.0, max_new_tokens=8, seed=[23])
    assert [g.text for g in alone[0]] == [g.text for g in both[1]]
    assert [g.text for g in shifted[0]] == [g.text for g in both[1][1:]]  # sample j uses seed + j
    other = backend.generate([PROMPTS[1]], n=3, temperature=1.0, max_new_tokens=8, seed=[99])
    assert [g.text for g in other[0]] != [g.text for g in alone[0]]
    with pytest.raises(ValueError, match="2 seeds for 1 prompts"):
        backend.generate([PROMPTS[1]], n=1, temperature=1.0, max_new_tokens=2, seed=[1, 2])


def test_gumbel_sampling_follows_the_softmax() -> None:
    """argmax(logits / T + Gumbel) is a draw from softmax(logits / T): frequencies over many rows."""
    torch = pytest.importorskip("torch")
    from beyondmode.evaluate.backends.transformers_backend import _row_seeded_gumbel

    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]]).repeat(4000, 1)
    processor = _row_seeded_gumbel(list(range(4000)), temperature=0.7)
    draws = processor(None, logits).argmax(dim=-1)
    frequencies = torch.bincount(draws, minlength=4).float() / 4000
    expected = torch.softmax(logits[0] / 0.7, dim=-1)
    assert torch.allclose(frequencies, expected, atol=0.03), (frequencies, expected)


def test_vllm_backend_resolves_model_names_like_the_other_backends(tmp_path, monkeypatch) -> None:
    """A missing folder names itself (before vLLM is imported); an offline name reaches vLLM as its
    built folder, as it does for the transformers backend and training."""
    from types import SimpleNamespace

    from beyondmode.evaluate.backends import vllm_backend
    from beyondmode.models import loading

    with pytest.raises(FileNotFoundError, match="no-such-model"):
        vllm_backend.VLLMBackend(tmp_path / "no-such-model")
    folder = tmp_path / "built"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    monkeypatch.setitem(
        loading.OFFLINE_MODELS, "fake-offline", lambda: SimpleNamespace(folder=lambda: folder)
    )
    seen: dict = {}

    class FakeLLM:
        def __init__(self, model: str, **options) -> None:
            seen.update(model=model, **options)

        def get_tokenizer(self) -> None:
            return None

    monkeypatch.setattr(vllm_backend, "_import_vllm", lambda: SimpleNamespace(LLM=FakeLLM))
    vllm_backend.VLLMBackend("fake-offline", enforce_eager=True)
    assert seen == {"model": str(folder), "enforce_eager": True}
