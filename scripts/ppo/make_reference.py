"""Reference values for one PPO update of cai-ppo, computed with Hugging Face transformers on CPU in
float64 from the committed tiny random Mistral.

Three samples (prompt + response, of different lengths; one longer than the model's sliding
window of 16) are each run alone, unpadded. Writes `ppo_reference.json` into --out:
  - actor (MistralForCausalLM): the token log-probs at temperature T, the old and reference
    log-probs made from them with fixed offsets (rounded to float32, as cai-ppo stores them), the
    advantages, and the token mean of the clipped surrogate plus beta * k3(logp - ref); its value,
    the ratio statistics cai-ppo sums up, and the gradients of the final norm, one attention
    projection, the LM head (some rows) and the embedding (the rows of the tokens used);
  - critic (MistralForSequenceClassification's backbone and `score`, set to a fixed formula): the
    values before each response token, old values and returns made from them with fixed offsets,
    and the clipped value loss `0.5 * mean(max((Vc - R)^2, (V - R)^2))`, with the gradients of
    the head, the final norm and one attention projection.
The offsets are chosen so that tokens of every clipping case occur (checked below). cai-ppo's
`tests/reference.rs` recomputes all of it on a right-padded batch and compares within 1e-5.
"""
import argparse
import json
import math

import torch
from transformers import MistralForCausalLM, MistralForSequenceClassification

torch.set_num_threads(2)

# (prompt, response, ended): ids of the tiny 512-token vocabulary; 6 + 12 tokens exceed the window.
SAMPLES = [
    ([1, 17, 42, 99], [250, 31, 77, 2], True),
    ([1, 5, 6, 7, 8, 9], [300, 301, 12, 13, 14, 15, 16, 17, 18, 19, 20, 2], True),
    ([1, 400], [401, 402, 403], False),
]
TEMPERATURE = 0.7
EPS = 0.2
BETA = 0.1
VALUE_CLIP = 0.2
CHUNK_ROWS = 3
# Per response token k (over all samples in order), cycled: old = logp + OLD_OFFSETS[k] (so the
# ratio is exp(-offset): 0.3 puts it below 1 - eps, -0.3 above 1 + eps), ref = logp + REF_OFFSETS,
# V_old = V + VALUE_OFFSETS (beyond the value clip at +-0.35, +-0.5), R = V + RETURN_OFFSETS.
OLD_OFFSETS = [0.0, 0.3, -0.3, 0.05, -0.3, 0.3, -0.1, 0.0, 0.4, -0.4]
ADVANTAGES = [0.9, -0.7, 0.6, 1.1, -0.5, -1.2, 0.4, -0.8, 0.7, -0.3, 1.3]
REF_OFFSETS = [0.2, -0.15, 0.05, -0.3, 0.1, 0.0, 0.25]
VALUE_OFFSETS = [0.0, 0.35, -0.35, 0.1, 0.5, -0.5, -0.05]
RETURN_OFFSETS = [0.3, 0.1, -0.3, -0.6, 0.25, 0.4, -0.1, 0.05]
ACTOR_GRADS = ["model.norm.weight", "model.layers.0.self_attn.q_proj.weight"]
CRITIC_GRADS = ["score.weight", "model.norm.weight", "model.layers.1.self_attn.q_proj.weight"]


def score_weight(hidden):
    return [0.08 * math.cos(0.23 * j + 0.4) for j in range(hidden)]


def f32(x):
    """`x` rounded to float32, back in float64."""
    return x.float().double()


def cycle(pattern, n):
    return torch.tensor([pattern[k % len(pattern)] for k in range(n)], dtype=torch.float64)


def response_states(backbone, prompt, response):
    """Final-norm hidden states of `prompt + response` at the positions predicting the response."""
    ids = torch.tensor([prompt + response])
    hidden = backbone(input_ids=ids).last_hidden_state[0]
    return hidden[len(prompt) - 1 : len(prompt) - 1 + len(response)]


def grad_entry(param, rows=None):
    g = param.grad if rows is None else param.grad[rows]
    entry = {"shape": list(g.shape), "values": g.flatten().tolist()}
    if rows is not None:
        entry["rows"] = rows
    return entry


def actor(tiny_dir):
    model = MistralForCausalLM.from_pretrained(tiny_dir, dtype=torch.float32, attn_implementation="eager")
    model = model.double().eval()
    targets = torch.tensor([t for _, r, _ in SAMPLES for t in r])
    hidden = torch.cat([response_states(model.model, p, r) for p, r, _ in SAMPLES])
    logp_all = torch.log_softmax(model.lm_head(hidden) / TEMPERATURE, dim=-1)
    logp = logp_all.gather(1, targets[:, None])[:, 0]
    n = len(targets)
    old = f32(logp.detach() + cycle(OLD_OFFSETS, n))
    ref = f32(logp.detach() + cycle(REF_OFFSETS, n))
    adv = cycle(ADVANTAGES, n)

    ratio = torch.exp(logp - old)
    clamped = ratio.clamp(1 - EPS, 1 + EPS)
    surrogate = torch.maximum(-adv * ratio, -adv * clamped)
    d = logp - ref
    kl = torch.exp(-d) - 1 + d
    loss = (surrogate + BETA * kl).sum() / n
    loss.backward()

    r = ratio.detach()
    clipped = (adv > 0) & (r > 1 + EPS) | (adv < 0) & (r < 1 - EPS)
    # Every case of the clipped surrogate occurs: clipped and not, above and below the range.
    for case in [(adv > 0) & (r > 1 + EPS), (adv < 0) & (r < 1 - EPS), (adv > 0) & (r < 1 - EPS), (adv < 0) & (r > 1 + EPS), (r - 1).abs() < EPS]:
        assert case.any()
    params = dict(model.named_parameters())
    used = sorted({t for p, resp, _ in SAMPLES for t in p + resp})
    head_rows = sorted(set(targets.tolist()) | set(range(0, model.config.vocab_size, 16)))
    grads = {name: grad_entry(params[name]) for name in ACTOR_GRADS}
    grads["lm_head.weight"] = grad_entry(params["lm_head.weight"], head_rows)
    grads["model.embed_tokens.weight"] = grad_entry(params["model.embed_tokens.weight"], used)
    log_ratio = old - logp.detach()
    return {
        "logprobs": logp.detach().tolist(),
        "old_logprobs": old.tolist(),
        "ref_logprobs": ref.tolist(),
        "advantages": adv.tolist(),
        "loss": float(loss.detach()),
        "stats": {
            "tokens": n,
            "ratio": float(r.sum()),
            "ratio_clamped": float(clamped.detach().sum()),
            "clipped": int(clipped.sum()),
            "ratio_max_deviation": float((r - 1).abs().max()),
            "approx_kl": float((torch.exp(-log_ratio) - 1 + log_ratio).sum()),
        },
        "grads": grads,
    }


def critic(tiny_dir):
    model = MistralForSequenceClassification.from_pretrained(tiny_dir, num_labels=1, dtype=torch.float32, attn_implementation="eager")
    model = model.double().eval()
    hidden = model.config.hidden_size
    with torch.no_grad():
        model.score.weight.copy_(torch.tensor([score_weight(hidden)]))
    states = torch.cat([response_states(model.model, p, r) for p, r, _ in SAMPLES])
    v = model.score(states)[:, 0]
    n = len(v)
    v_old = f32(v.detach() + cycle(VALUE_OFFSETS, n))
    returns = v.detach() + cycle(RETURN_OFFSETS, n)
    v_clipped = v_old + (v - v_old).clamp(-VALUE_CLIP, VALUE_CLIP)
    a, b = (v_clipped - returns) ** 2, (v - returns) ** 2
    loss = 0.5 * torch.maximum(a, b).sum() / n
    loss.backward()
    outside = (v.detach() - v_old).abs() > VALUE_CLIP
    # Beyond the clip, both the clipped term (no gradient) and the unclipped one win somewhere.
    assert (outside & (a > b)).any() and (outside & (a < b)).any() and (~outside).any()
    params = dict(model.named_parameters())
    return {
        "score_weight": score_weight(hidden),
        "values": v.detach().tolist(),
        "old_values": v_old.tolist(),
        "returns": returns.tolist(),
        "loss": float(loss.detach()),
        "grads": {name: grad_entry(params[name]) for name in CRITIC_GRADS},
    }


def make(tiny_dir, out):
    result = {
        "model": "crates/cai-model/tests/fixtures/tiny-mistral",
        "samples": [{"prompt": p, "response": r, "ended": e} for p, r, e in SAMPLES],
        "temperature": TEMPERATURE,
        "eps": EPS,
        "beta": BETA,
        "value_clip": VALUE_CLIP,
        "chunk_rows": CHUNK_ROWS,
        "actor": actor(tiny_dir),
        "critic": critic(tiny_dir),
        "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__},
    }
    with open(f"{out}/ppo_reference.json", "w") as f:
        json.dump(result, f)
    a, c = result["actor"], result["critic"]
    print(f"actor loss {a['loss']:.6f}, {a['stats']['clipped']} of {a['stats']['tokens']} clipped; critic loss {c['loss']:.6f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiny", default="crates/cai-model/tests/fixtures/tiny-mistral")
    ap.add_argument("--out", default="crates/cai-ppo/tests/fixtures")
    args = ap.parse_args()
    make(args.tiny, args.out)
