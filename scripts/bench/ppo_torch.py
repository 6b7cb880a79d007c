"""PyTorch/transformers side of `cargo xtask bench ppo`: one PPO iteration on SmolLM2-135M-Instruct
f32 with 2 threads -- the same workload as crates/cai-ppo/benches/ppo.rs:

1. generate: 8 chat prompts x exactly 64 new tokens (HF `generate`, KV cache, temperature 1, no
   top-k/top-p; `min_new_tokens` keeps EOS out so every row samples 64 tokens), one batch of 8;
2. logprobs: the sampled tokens' log-probs under the actor and the frozen reference
   (teacher-forced, 4 samples per forward, the LM head on the response positions only);
3. values: a critic (the same backbone, its own copy, plus a `Linear(hidden, 1)` head) on every
   response token, 4 per forward;
4. assemble: |KL| in the reward (coefficient 0.02), fixed pseudo scores on the last token, GAE
   (gamma 1, lambda 0.95), whitening;
5. actor / critic update: one minibatch of 8, micro-batches of 4 (gradients accumulated), the
   clipped PPO loss (eps 0.2) and the clipped value loss (0.2), token means over the minibatch,
   global-norm clipping to 1.0, one torch.optim.AdamW step each (lr 1e-5 / 5e-5).

Reports the median of 3 iterations after one warm-up, tokens/s per phase (8 x 64 response
tokens; the logprobs phase counts both models), iteration samples/s and peak RSS.

Usage: ppo_torch.py GGUF_PATH OUT.json
"""
import copy
import json
import os
import sys
import time

import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer

from sft_torch import peak_rss_mib

PROMPTS = [
    "What is the capital of France?",
    "Give me three tips for staying focused while studying.",
    "How do I pick a lock?",
    "Write a haiku about the sea.",
    "Explain photosynthesis to a ten-year-old.",
    "What should I do if my neighbour's dog keeps barking at night?",
    "Tell me a joke about computers.",
    "Why is the sky blue?",
]
NEW_TOKENS, MICRO, TIMED = 64, 4, 3
TEMPERATURE, ACTOR_LR, CRITIC_LR, MAX_GRAD_NORM = 1.0, 1e-5, 5e-5, 1.0
CLIP_EPS, VALUE_CLIP, KL_COEF, GAMMA, LAMBDA = 0.2, 0.2, 0.02, 1.0, 0.95
PHASES = ["generate", "actor_logprobs", "ref_logprobs", "values", "assemble", "actor_update",
          "critic_update"]
torch.set_num_threads(2)
torch.manual_seed(1234)


def pseudo_score(i):
    return ((i * 37) % 8) / 4.0 - 1.0


def chat_ids(tokenizer, text):
    """The prompt rendered with the model's chat template and the generation prompt."""
    ids = tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=True,
                                        add_generation_prompt=True)
    return ids if isinstance(ids, list) else list(ids["input_ids"])


def pack(prompts, responses, idx, pad):
    """Right-padded prompt + response rows of samples `idx`, the (row, position) predicting each
    response token, and the tokens."""
    seqs = [prompts[i] + responses[i] for i in idx]
    width = max(len(s) for s in seqs)
    ids = torch.tensor([s + [pad] * (width - len(s)) for s in seqs])
    rows = torch.tensor([r for r, i in enumerate(idx) for _ in responses[i]])
    pos = torch.tensor([len(prompts[i]) - 1 + j for i in idx for j in range(len(responses[i]))])
    targets = torch.tensor([t for i in idx for t in responses[i]])
    return ids, rows, pos, targets


def token_logprobs(lm, ids, rows, pos, targets):
    # Right padding under a causal mask: the picked positions never see a pad, so no mask.
    hidden = lm.model(input_ids=ids).last_hidden_state[rows, pos]
    logp = F.log_softmax(lm.lm_head(hidden) / TEMPERATURE, dim=-1)
    return logp.gather(1, targets[:, None])[:, 0]


def critic_values(body, head, ids, rows, pos):
    return head(body(input_ids=ids).last_hidden_state[rows, pos])[:, 0]


def chunks(n):
    return [list(range(s, min(s + MICRO, n))) for s in range(0, n, MICRO)]


def gae(rewards, values):
    """Per-sample GAE over [samples, tokens] tensors (V after the last token = 0)."""
    adv = torch.zeros_like(rewards)
    nxt_adv = torch.zeros(rewards.shape[0])
    for j in reversed(range(rewards.shape[1])):
        nxt_v = values[:, j + 1] if j + 1 < rewards.shape[1] else torch.zeros(rewards.shape[0])
        delta = rewards[:, j] + GAMMA * nxt_v - values[:, j]
        nxt_adv = delta + GAMMA * LAMBDA * nxt_adv
        adv[:, j] = nxt_adv
    return adv, adv + values


def main(gguf, out):
    d, f = os.path.split(gguf)
    actor = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, torch_dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(d, gguf_file=f)
    reference = copy.deepcopy(actor).eval().requires_grad_(False)
    critic_body = copy.deepcopy(actor.model)
    hidden = actor.config.hidden_size
    head = torch.nn.Linear(hidden, 1, bias=False)
    torch.nn.init.normal_(head.weight, std=0.02)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    prompts = [chat_ids(tokenizer, p) for p in PROMPTS]
    n = len(prompts)
    betas, eps = (0.9, 0.98), 1e-8
    actor_optim = torch.optim.AdamW(actor.parameters(), lr=ACTOR_LR, betas=betas, eps=eps,
                                    weight_decay=0.0)
    critic_params = list(critic_body.parameters()) + list(head.parameters())
    critic_optim = torch.optim.AdamW(critic_params, lr=CRITIC_LR, betas=betas, eps=eps,
                                     weight_decay=0.0)
    scores = torch.tensor([pseudo_score(i) for i in range(n)])
    width = max(len(p) for p in prompts)
    gen_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
    gen_mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    tokens = n * NEW_TOKENS

    phases = {p: [] for p in PHASES}
    totals, actor_losses, critic_losses = [], [], []
    for it in range(TIMED + 1):
        times = []
        started = clock = time.perf_counter()

        def lap():
            nonlocal clock
            now = time.perf_counter()
            times.append(now - clock)
            clock = now

        with torch.inference_mode():
            gen = actor.generate(input_ids=gen_ids, attention_mask=gen_mask, do_sample=True,
                                 temperature=TEMPERATURE, top_k=0, top_p=1.0,
                                 repetition_penalty=1.0, max_new_tokens=NEW_TOKENS,
                                 min_new_tokens=NEW_TOKENS, pad_token_id=pad)
        responses = gen[:, width:].tolist()
        assert all(len(r) == NEW_TOKENS for r in responses)
        lap()
        micro = [(idx, pack(prompts, responses, idx, pad)) for idx in chunks(n)]
        with torch.inference_mode():
            old = torch.cat([token_logprobs(actor, *m) for _, m in micro]).view(n, NEW_TOKENS)
        lap()
        with torch.inference_mode():
            ref = torch.cat([token_logprobs(reference, *m) for _, m in micro]).view(n, NEW_TOKENS)
        lap()
        with torch.inference_mode():
            values = torch.cat([critic_values(critic_body, head, *m[:3]) for _, m in micro])
            values = values.view(n, NEW_TOKENS)
        lap()
        rewards = -KL_COEF * (old - ref).abs()
        rewards[:, -1] += scores
        adv, returns = gae(rewards, values)
        adv = (adv - adv.mean()) / torch.sqrt(adv.var(unbiased=False) + 1e-8)
        lap()

        # Actor: one AdamW step on the clipped surrogate, token mean over the minibatch.
        actor_optim.zero_grad(set_to_none=True)
        actor_loss = 0.0
        for idx, m in micro:
            logp = token_logprobs(actor, *m)
            ratio = torch.exp(logp - old[idx].flatten())
            a = adv[idx].flatten()
            loss = torch.maximum(-a * ratio, -a * ratio.clamp(1 - CLIP_EPS, 1 + CLIP_EPS))
            loss = loss.sum() / tokens
            loss.backward()
            actor_loss += loss.item()
        torch.nn.utils.clip_grad_norm_(actor.parameters(), MAX_GRAD_NORM)
        actor_optim.step()
        lap()

        # Critic: one AdamW step on the clipped value loss.
        critic_optim.zero_grad(set_to_none=True)
        critic_loss = 0.0
        for idx, m in micro:
            v = critic_values(critic_body, head, *m[:3])
            v_old, r = values[idx].flatten(), returns[idx].flatten()
            v_clipped = v_old + (v - v_old).clamp(-VALUE_CLIP, VALUE_CLIP)
            loss = 0.5 * torch.maximum((v_clipped - r) ** 2, (v - r) ** 2).sum() / tokens
            loss.backward()
            critic_loss += loss.item()
        torch.nn.utils.clip_grad_norm_(critic_params, MAX_GRAD_NORM)
        critic_optim.step()
        lap()

        total = time.perf_counter() - started
        print(f"iteration {it}: {total:.2f} s ("
              + ", ".join(f"{p} {t:.2f}" for p, t in zip(PHASES, times))
              + f"), actor loss {actor_loss:.6f}, critic loss {critic_loss:.6f}",
              file=sys.stderr)
        if it > 0:
            for p, t in zip(PHASES, times):
                phases[p].append(t)
            totals.append(total)
        actor_losses.append(actor_loss)
        critic_losses.append(critic_loss)

    def median(v):
        return sorted(v)[len(v) // 2]

    s = {p: median(v) for p, v in phases.items()}
    iteration_s = median(totals)
    result = {
        "iteration_samples_s": n / iteration_s,
        "iteration_tok_s": tokens / iteration_s,
        "generate_tok_s": tokens / s["generate"],
        "logprobs_tok_s": 2 * tokens / (s["actor_logprobs"] + s["ref_logprobs"]),
        "values_tok_s": tokens / s["values"],
        "actor_update_tok_s": tokens / s["actor_update"],
        "critic_update_tok_s": tokens / s["critic_update"],
        # The critic's whole work of an iteration: its values pass and its update (ours runs
        # them as one pass when the update is at the rollout's weights).
        "critic_tok_s": tokens / (s["values"] + s["critic_update"]),
        "peak_rss_mib": peak_rss_mib(),
        "detail": {
            "iteration_s": iteration_s,
            "phase_s": s,
            "iterations_s": totals,
            "phases_s": phases,
            "actor_losses": actor_losses,
            "critic_losses": critic_losses,
            "prompt_ids": prompts,
        },
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    print(json.dumps(result, indent=2))
    with open(out, "w") as fh:
        json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
