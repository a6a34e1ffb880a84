"""A tiny Llama-style causal LM and a word-level tokenizer built from a task's own text, for CPU runs.

Both save and load as ordinary HF folders (`save_pretrained` / `from_pretrained`; the tokenizer is a
`PreTrainedTokenizerFast`), so training, generation and evaluation treat them like any other model.

Choices, each forced by how TRL and the format work:
- Word level, split on whitespace only: `<answer1>`, `flu`, `0.45` are each one token, so a confidence
  is a single token (which makes per-token confidence credit exact) and tags cannot be split.
- Format tags are ordinary words, never special tokens: TRL decodes completions with
  `skip_special_tokens=True`, which would delete special tags.
- The decoder joins tokens with spaces, so `<answer1> flu </answer1>` decodes to parsable text (newlines
  become spaces, which the parser ignores).
- No post-processor, and a minimal chat template (`CHAT_TEMPLATE`): BOS, then each message's content on
  its own line, no role words (the same text as `plain_prompt`). The prompt text carries BOS because
  TRL adds none for such a tokenizer; having a template means every consumer (TRL, the warm start, the
  evaluation backends) renders the same prompt through `apply_chat_template`. The EOS token ends every
  SFT target, so generation stops after the last tag.

>>> tokenizer = build_word_tokenizer(["<answer> flu </answer>"])
>>> tokenizer.decode(tokenizer("<answer> flu </answer>")["input_ids"])
'<answer> flu </answer>'
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from beyondmode.formats import AnswerFormat
from beyondmode.types import Example

if TYPE_CHECKING:  # transformers and tokenizers load inside the builders: this module imports light
    from transformers import LlamaForCausalLM, PreTrainedTokenizerBase, PreTrainedTokenizerFast

logger = logging.getLogger(__name__)

SPECIAL_TOKENS = {"pad": "<pad>", "bos": "<s>", "eos": "</s>", "unk": "<unk>"}
CHAT_TEMPLATE = "{{ bos_token }} {% for message in messages %}{{ message['content'] }}\n{% endfor %}"
"""BOS, then each message's content on its own line; roles and the generation prompt add nothing."""
DEFAULT_THINK = "consider the findings"
"""The think text of a warm-start completion when the example has no `metadata["findings"]`."""


@dataclass(frozen=True, slots=True)
class TinyModelSpec:
    """Sizes of the tiny model (about 0.2M parameters plus the embeddings at the defaults)."""

    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 256
    max_position_embeddings: int = 512


def build_word_tokenizer(texts: Iterable[str], extra_words: Iterable[str] = ()) -> PreTrainedTokenizerFast:
    """A word-level tokenizer whose vocabulary is every whitespace-separated word of `texts`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab: dict[str, int] = {}
    for token in SPECIAL_TOKENS.values():
        vocab[token] = len(vocab)
    for text in texts:
        for word in text.split():
            vocab.setdefault(word, len(vocab))
    for word in extra_words:
        vocab.setdefault(word, len(vocab))
    backend = Tokenizer(models.WordLevel(vocab, unk_token=SPECIAL_TOKENS["unk"]))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.decoder = decoders.WordPiece(prefix="\x00", cleanup=False)  # joins words with single spaces
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=SPECIAL_TOKENS["bos"],
        eos_token=SPECIAL_TOKENS["eos"],
        pad_token=SPECIAL_TOKENS["pad"],
        unk_token=SPECIAL_TOKENS["unk"],
        model_max_length=4096,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_tiny_model(
    spec: TinyModelSpec, tokenizer: PreTrainedTokenizerBase, seed: int = 0
) -> LlamaForCausalLM:
    """A randomly initialised Llama-style causal LM sized by `spec` for `tokenizer`'s vocabulary."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    if spec.hidden_size % spec.num_heads:
        raise ValueError(f"hidden_size {spec.hidden_size} is not divisible by num_heads {spec.num_heads}")
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads,
        num_key_value_heads=spec.num_heads,
        max_position_embeddings=spec.max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    logger.info("tiny model: %.2fM parameters, vocabulary %d", model.num_parameters() / 1e6, len(tokenizer))
    return model


def plain_prompt(messages: Sequence[Mapping[str, str]], tokenizer: PreTrainedTokenizerBase) -> str:
    """The prompt as one plain string for a tokenizer without a chat template: BOS (when the tokenizer
    does not add it itself), then each message's content on its own line (what `CHAT_TEMPLATE` renders).

    >>> plain_prompt([{"role": "user", "content": "fever"}], build_word_tokenizer(["fever"]))
    '<s> fever\\n'
    """
    contents = "\n".join(message["content"] for message in messages)
    bos = tokenizer.bos_token
    if bos and tokenizer("x")["input_ids"][:1] != [tokenizer.bos_token_id]:
        return f"{bos} {contents}\n"
    return f"{contents}\n"


def task_words(examples: Iterable[Example], formats: Iterable[AnswerFormat]) -> list[str]:
    """Every word a prompt or a warm-start completion of these examples can contain, in a stable order.

    Covers the prompts, every gold alias and posterior answer, the findings, the words of
    `metadata["vocabulary"]` (code_sim: every grammar token), the format tags of each format, and the
    confidences 0.00..1.00 at each format's decimals.
    """
    words: dict[str, None] = {}

    def add(text: str) -> None:
        words.update(dict.fromkeys(text.split()))

    formats = list(formats)
    for fmt in formats:
        add(fmt.instructions())
        add(DEFAULT_THINK)
        for slot in range(1, fmt.num_candidates + 1):
            for name in ("answer", "confidence"):
                add(f"<{fmt.tag(name, slot)}> </{fmt.tag(name, slot)}>")
        add("<think> </think> <analysis> </analysis>")
        steps = 10**fmt.confidence_decimals
        add(" ".join(f"{i / steps:.{fmt.confidence_decimals}f}" for i in range(steps + 1)))
    for example in examples:
        for message in example.prompt:
            add(message["content"])
        for aliases in example.gold:
            for alias in aliases:
                add(alias)
        for answer in example.posterior or {}:
            add(answer)
        for finding in example.metadata.get("findings", ()):
            add(str(finding))
        for text in example.metadata.get("finding_texts", ()):
            add(str(text).lower() + " ;")
        for token in example.metadata.get("vocabulary", ()):  # a task's whole answer vocabulary (code_sim)
            add(str(token))
    return list(words)
