"""PyTorch/transformers side of `cargo xtask bench sft`: one optimizer step (forward, backward,
global-norm clipping to 1.0, AdamW) at batch 4 x 256 tokens on SmolLM2-135M-Instruct f32 with
2 threads, loss on every position -- the same workload as crates/cai-sft/benches/sft.rs.

Usage: sft_torch.py GGUF_PATH OUT.json
"""
import json
import os
import sys
import time

import torch
from transformers import AutoModelForCausalLM

BATCH, SEQ, TIMED_STEPS = 4, 256, 3
torch.set_num_threads(2)
torch.manual_seed(1234)


def row_ids(row):
    return [(i * 7919 + row * 104729) % 48000 + 100 for i in range(SEQ)]


def peak_rss_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(gguf, out):
    d, f = os.path.split(gguf)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, torch_dtype=torch.float32)
    model.train()
    optim = torch.optim.AdamW(model.parameters(), lr=3e-5, betas=(0.9, 0.98), eps=1e-8,
                              weight_decay=0.01)
    ids = torch.tensor([row_ids(r) for r in range(BATCH)])
    times, losses = [], []
    for _ in range(TIMED_STEPS + 1):
        start = time.perf_counter()
        optim.zero_grad(set_to_none=True)
        loss = model(input_ids=ids, labels=ids).loss
        losses.append(loss.item())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optim.step()
        times.append(time.perf_counter() - start)
    timed = sorted(times[1:])
    step_s = timed[len(timed) // 2]
    result = {
        "tok_s": BATCH * SEQ / step_s,
        "peak_rss_mib": peak_rss_mib(),
        "detail": {"step_s": step_s, "first_step_s": times[0], "losses": losses},
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(result, indent=2))
    with open(out, "w") as fh:
        json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
