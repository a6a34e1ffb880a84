"""A tiny random Llama and a whitespace WordLevel tokenizer saved to a directory (built, not downloaded)."""

from __future__ import annotations

from pathlib import Path

_VOCABULARY = """
<think> </think> <answer> </answer> <confidence> </confidence> <answer1> </answer1> <answer2> </answer2>
<confidence1> </confidence1> <confidence2> </confidence2> cat dog cow fox hen puppy wolf 0.1 0.2 0.5 0.9
which pet meows? name a canid. the animal system: user: assistant:
"""
WORDS = tuple(_VOCABULARY.split())
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


def build_tiny_model(directory: Path, chat_template: bool = True, seed: int = 0) -> Path:
    """Save a 1-layer Llama (hidden size 32) and its tokenizer to `directory`; returns it."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<unk>", "<pad>", "<eos>"]
    vocab = {token: index for index, token in enumerate([*specials, *dict.fromkeys(WORDS)])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="<unk>", pad_token="<pad>", eos_token="<eos>"
    )
    if chat_template:
        tokenizer.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=vocab["<pad>"],
        eos_token_id=vocab["<eos>"],
        bos_token_id=None,
    )
    model = LlamaForCausalLM(config)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
