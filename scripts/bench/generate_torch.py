"""PyTorch/transformers side of `cargo xtask bench generate`: the same workloads as
crates/cai-model/benches/generate.rs on SmolLM2-135M-Instruct f32 with 2 threads.

Usage: generate_torch.py GGUF_PATH OUT.json
"""
import json
import os
import sys
import time

import torch
from transformers import AutoModelForCausalLM

PREFILL_TOKENS, DECODE_PROMPT, DECODE_TOKENS = 256, 32, 128
torch.set_num_threads(2)


def prompt_ids(row, length):
    return [(i * 7919 + row * 104729) % 48000 + 100 for i in range(length)]


def timed(reps, fn):
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def peak_rss_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


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

    result = {
        "prefill_b1_tok_s": PREFILL_TOKENS / timed(3, lambda: prefill(1)),
        "prefill_b8_tok_s": 8 * PREFILL_TOKENS / timed(3, lambda: prefill(8)),
    }
    for b in (1, 8):
        total = timed(2, lambda: greedy(b, DECODE_TOKENS))
        first = timed(2, lambda: greedy(b, 1))
        result[f"decode_b{b}_tok_s"] = b * (DECODE_TOKENS - 1) / (total - first)
    result["peak_rss_mib"] = peak_rss_mib()
    result["threads"] = torch.get_num_threads()
    result["torch"] = torch.__version__
    print(json.dumps(result))
    json.dump(result, open(out, "w"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
