"""PyTorch/transformers side of `cargo xtask bench rm`: one reward-model optimizer step (forward of
both sides, Bradley-Terry loss, backward, global-norm clipping to 1.0, AdamW) on 4 pairs x 256
tokens with SmolLM2-135M-Instruct f32 as LlamaForSequenceClassification (one label), 2 threads --
the same workload as crates/cai-rm/benches/rm.rs.

Usage: rm_torch.py GGUF_PATH OUT.json
"""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F
from transformers import AutoModelForSequenceClassification

from sft_torch import peak_rss_mib, row_ids

PAIRS, TIMED_STEPS = 4, 3
torch.set_num_threads(2)
torch.manual_seed(1234)


def main(gguf, out):
    d, f = os.path.split(gguf)
    model = AutoModelForSequenceClassification.from_pretrained(
        d, gguf_file=f, num_labels=1, torch_dtype=torch.float32)
    model.config.pad_token_id = 0  # no row holds id 0: every row's last token is scored
    model.train()
    optim = torch.optim.AdamW(model.parameters(), lr=2e-5, betas=(0.9, 0.98), eps=1e-8,
                              weight_decay=0.1)
    ids = torch.tensor([row_ids(r) for r in range(2 * PAIRS)])
    times, losses = [], []
    for _ in range(TIMED_STEPS + 1):
        start = time.perf_counter()
        optim.zero_grad(set_to_none=True)
        rewards = model(input_ids=ids).logits[:, 0]
        loss = -F.logsigmoid(rewards[:PAIRS] - rewards[PAIRS:]).mean()
        losses.append(loss.item())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optim.step()
        times.append(time.perf_counter() - start)
    timed = sorted(times[1:])
    step_s = timed[len(timed) // 2]
    result = {
        "tok_s": 2 * PAIRS * 256 / step_s,
        "peak_rss_mib": peak_rss_mib(),
        "detail": {"step_s": step_s, "first_step_s": times[0], "losses": losses},
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(result, indent=2))
    with open(out, "w") as fh:
        json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
