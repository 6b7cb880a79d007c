"""PyTorch/transformers side of `cargo xtask bench generate`: the same workloads as
crates/cai-model/benches/generate.rs on SmolLM2-135M-Instruct f32 with 2 threads (prefill,
greedy decode, and the rollout: 32 prompts x 128 tokens sampled at temperature 1).

Usage: generate_torch.py GGUF_PATH OUT.json
"""
import json
import os
import sys

import torch
from transformers import AutoModelForCausalLM

from bench_common import (
    DECODE_PROMPT,
    DECODE_TOKENS,
    PREFILL_TOKENS,
    ROLLOUT_PROMPTS,
    ROLLOUT_TOKENS,
    peak_rss_mib,
    prompt_ids,
    timed,
)
torch.set_num_threads(2)


def main(gguf, out):
    d, f = os.path.split(gguf)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, torch_dtype=torch.float32).eval()

    @torch.inference_mode()
    def prefill(batch):
        ids = torch.tensor([prompt_ids(r, PREFILL_TOKENS) for r in range(batch)])
        return model(ids, use_cache=True).logits[:, -1]

    @torch.inference_mode()
    def greedy(batch, steps):
        ids = torch.tensor([prompt_ids(r, DECODE_PROMPT) for r in range(batch)])
        out = model(ids, use_cache=True)
        past, nxt = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
        for _ in range(steps - 1):
            out = model(nxt, past_key_values=past, use_cache=True)
            past, nxt = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)

    @torch.inference_mode()
    def rollout():
        # Temperature 1, no top-k/top-p: a draw from the full softmax, EOS ignored.
        ids = torch.tensor([prompt_ids(r, DECODE_PROMPT) for r in range(ROLLOUT_PROMPTS)])
        out = model(ids, use_cache=True)
        for step in range(ROLLOUT_TOKENS):
            probs = torch.softmax(out.logits[:, -1].float(), dim=-1)
            nxt = torch.multinomial(probs, 1)
            if step + 1 < ROLLOUT_TOKENS:
                out = model(nxt, past_key_values=out.past_key_values, use_cache=True)

    torch.manual_seed(0)
    result = {
        "prefill_b1_tok_s": PREFILL_TOKENS / timed(3, lambda: prefill(1)),
        "prefill_b8_tok_s": 8 * PREFILL_TOKENS / timed(3, lambda: prefill(8)),
    }
    for b in (1, 8):
        total = timed(2, lambda: greedy(b, DECODE_TOKENS))
        first = timed(2, lambda: greedy(b, 1))
        result[f"decode_b{b}_tok_s"] = b * (DECODE_TOKENS - 1) / (total - first)
    result["rollout_b32_tok_s"] = ROLLOUT_PROMPTS * ROLLOUT_TOKENS / timed(1, rollout)
    result["peak_rss_mib"] = peak_rss_mib()
    result["threads"] = torch.get_num_threads()
    result["torch"] = torch.__version__
    print(json.dumps(result))
    json.dump(result, open(out, "w"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
