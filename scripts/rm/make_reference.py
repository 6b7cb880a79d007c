"""Reference values for cai-rm, computed with Hugging Face transformers on CPU in float32.

Loads the committed tiny random Mistral as MistralForSequenceClassification (one label), sets its
`score.weight` to a fixed formula, and writes `bt_reference.json` into --out:
  - the rewards of a few token sequences (each alone, so no padding is involved),
  - the soft Bradley-Terry loss of three pairs (labels, margin and centring as in cai-rm),
  - the gradients of that loss for the head, the final norm and one attention projection.
cai-rm's `tests/reference.rs` recomputes all of it and compares within 1e-5.

With --check DIR INPUT SCORES, instead loads a reward model that cai-rm saved (DIR) with
AutoModelForSequenceClassification and its tokenizer and chat template, encodes each
`{"prompt", "response"}` line of INPUT as cai-rm does (template, trailing whitespace dropped, EOS
appended when missing), and compares with SCORES, the output of `cai-rm score --model DIR --input
INPUT`: the token counts must agree; prints the largest reward difference.
"""
import argparse
import json
import math

import torch
import torch.nn.functional as F
from transformers import AutoModelForSequenceClassification, MistralForSequenceClassification

torch.set_num_threads(2)

# Three pairs (chosen, rejected) of different lengths, ids of the tiny 512-token vocabulary.
PAIRS = [
    ([1, 17, 42, 99, 250, 2], [1, 17, 42, 300, 2]),
    ([1, 5, 6, 7, 8, 9, 10, 11, 2], [1, 5, 6, 2]),
    ([1, 400, 401, 402, 2], [1, 400, 499, 498, 497, 2]),
]
LABELS = [1.0, 0.7, 0.5]
MARGIN = 0.1
CENTRING = 0.01
GRADS = ["score.weight", "model.norm.weight", "model.layers.0.self_attn.q_proj.weight"]


def score_weight(hidden):
    return [0.05 * math.sin(0.37 * j + 0.1) for j in range(hidden)]


def reward(model, ids):
    return model(input_ids=torch.tensor([ids])).logits[0, 0]


def make(tiny_dir, out):
    model = MistralForSequenceClassification.from_pretrained(tiny_dir, num_labels=1, torch_dtype=torch.float32)
    model.eval()
    hidden = model.config.hidden_size
    with torch.no_grad():
        model.score.weight.copy_(torch.tensor([score_weight(hidden)]))
    chosen = torch.stack([reward(model, c) for c, _ in PAIRS])
    rejected = torch.stack([reward(model, r) for _, r in PAIRS])
    p = torch.tensor(LABELS)
    delta = chosen - rejected - MARGIN
    loss = (-(p * F.logsigmoid(delta) + (1 - p) * F.logsigmoid(-delta)) + CENTRING * (chosen + rejected) ** 2).mean()
    loss.backward()
    params = dict(model.named_parameters())
    result = {
        "model": "crates/cai-model/tests/fixtures/tiny-mistral",
        "score_weight": score_weight(hidden),
        "pairs": [{"chosen": c, "rejected": r} for c, r in PAIRS],
        "labels": LABELS,
        "margin": MARGIN,
        "centring": CENTRING,
        "rewards_chosen": chosen.tolist(),
        "rewards_rejected": rejected.tolist(),
        "loss": float(loss.detach()),
        "grads": {name: {"shape": list(params[name].grad.shape), "values": params[name].grad.flatten().tolist()} for name in GRADS},
        "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__},
    }
    with open(f"{out}/bt_reference.json", "w") as f:
        json.dump(result, f)
    print(f"loss {float(loss):.6f}; rewards {chosen.tolist()} / {rejected.tolist()}")


def encode(tok, prompt, response):
    messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
    text = tok.apply_chat_template(messages, tokenize=False).rstrip()
    ids = tok(text, add_special_tokens=False)["input_ids"]
    if ids[-1] != tok.eos_token_id:
        ids.append(tok.eos_token_id)
    return ids


def check(model_dir, input_path, scores_path):
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, torch_dtype=torch.float32)
    model.eval()
    assert model.config.num_labels == 1, model.config.num_labels
    inputs = [json.loads(line) for line in open(input_path) if line.strip()]
    ours = [json.loads(line) for line in open(scores_path) if line.strip()]
    worst = 0.0
    with torch.no_grad():
        for item, mine in zip(inputs, ours, strict=True):
            ids = encode(tok, item["prompt"], item["response"])
            assert len(ids) == mine["tokens"], (len(ids), mine["tokens"])
            worst = max(worst, abs(float(reward(model, ids)) - mine["reward"]))
    print(json.dumps({"class": type(model).__name__, "n": len(ours), "max_abs_diff": worst}))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiny", default="crates/cai-model/tests/fixtures/tiny-mistral")
    ap.add_argument("--out", default="crates/cai-rm/tests/fixtures")
    ap.add_argument("--check", nargs=3, metavar=("DIR", "INPUT", "SCORES"))
    args = ap.parse_args()
    if args.check:
        check(*args.check)
    else:
        make(args.tiny, args.out)
