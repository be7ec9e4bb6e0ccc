"""A tiny random Llama and a locally trained BPE tokenizer with a chat template, for the real vLLM on CPU.

    <vllm env>/venv/bin/python tools/vllmenv/make_tiny_model.py OUT_DIR

Deterministic (fixed seed), offline (nothing downloaded), about 2 MB. The shape suits vLLM's CPU backend:
hidden size 128 with 2 heads of head_dim 64 (its attention kernel rejects head_dim 16). It answers with
random tokens; what matters here is that vLLM loads it, serves the OpenAI API and exports its metrics.
"""

from __future__ import annotations

import sys
from pathlib import Path

SEED = 0
VOCAB_SIZE = 512
# At least every size preset's max_model_len (components/presets.py: up to 8192), so the chart's
# --max-model-len is accepted as on the real model; RoPE allocates nothing per position in the weights.
MAX_POSITIONS = 32768
CORPUS = [
    "Hello, how are you today? I am a small test model.",
    "The quick brown fox jumps over the lazy dog.",
    "vLLM serves language models over an OpenAI compatible API.",
] * 50
CHAT_TEMPLATE = ("{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}</s>{% endfor %}"
                 "{% if add_generation_prompt %}<s>assistant: {% endif %}")


def main(out: Path) -> None:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(SEED)
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=["<unk>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out)
    config = LlamaConfig(vocab_size=len(fast), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, head_dim=64,
                         max_position_embeddings=MAX_POSITIONS, bos_token_id=fast.bos_token_id,
                         eos_token_id=fast.eos_token_id, torch_dtype="float32")
    LlamaForCausalLM(config).save_pretrained(out, safe_serialization=True)
    print(f"tiny model written to {out}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_tiny_model.py OUT_DIR")
    main(Path(sys.argv[1]))
