"""Golden fixtures for cai-model, computed with Hugging Face transformers on CPU in float32.

Writes, into --out:
  smollm2.json + smollm2_logits.safetensors   SmolLM2-135M-Instruct (the Q4_1 GGUF, dequantised by
                                              transformers): ids, per-token log-probs, last logits,
                                              greedy continuations, SFT assistant-mask loss
  tiny_mistral.json + tiny_mistral_logits.safetensors
                                              the committed tiny random Mistral (sliding window 16):
                                              logits at every position, with and without the window
  gguf_dequant.json                           per-tensor checksums of the dequantised GGUF tensors
  tokenizer_cases.json                        tokenizer edge cases
Case texts are read back from the existing JSON files so a rerun recomputes the same cases.
"""
import argparse
import json
import os

import numpy as np
import torch
from gguf import GGUFReader
from gguf.quants import dequantize
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer, MistralForCausalLM

torch.set_num_threads(2)


def per_token_logprobs(logits, ids):
    lp = torch.log_softmax(logits.double(), dim=-1)
    return [float(lp[t, ids[t + 1]]) for t in range(len(ids) - 1)]


def greedy(model, ids, n):
    out = model.generate(torch.tensor([ids]), max_new_tokens=n, min_new_tokens=n, do_sample=False,
                         output_scores=True, return_dict_in_generate=True, eos_token_id=None)
    new = out.sequences[0, len(ids):].tolist()
    margins = []
    for s in out.scores:
        top2 = torch.topk(s[0], 2).values
        margins.append(float(top2[0] - top2[1]))
    return new, margins


def smollm2(gguf_path, out_dir):
    old = json.load(open(os.path.join(out_dir, "smollm2.json")))
    d, f = os.path.split(gguf_path)
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, torch_dtype=torch.float32).eval()
    tensors, cases = {}, {}
    for name, case in old["cases"].items():
        msgs = case["messages"]
        if case["kind"] == "text":
            text = case["text"]
        else:
            text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=case["kind"] == "chat")
        ids = tok(text, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0]
        last = logits[-1]
        top = torch.topk(last, 20)
        new, margins = greedy(model, ids, 32)
        eos = tok.eos_token_id
        entry = {
            "kind": case["kind"], "messages": msgs, "text": text, "ids": ids, "n_tokens": len(ids),
            "last_top20": {"ids": top.indices.tolist(), "values": top.values.tolist()},
            "last_logsumexp": float(torch.logsumexp(last, 0)),
            "argmax_per_position": logits.argmax(-1).tolist(),
            "per_token_logprobs": per_token_logprobs(logits, ids),
            "greedy32": {"ids": new, "text": tok.decode(new),
                         "first_eos_index": new.index(eos) if eos in new else None,
                         "top1_top2_margin": margins},
        }
        entry["sum_logprob"] = sum(entry["per_token_logprobs"])
        if case["kind"] == "chat_full":
            prompt_ids = tok(tok.apply_chat_template(msgs[:-1], tokenize=False, add_generation_prompt=True),
                             add_special_tokens=False)["input_ids"]
            end = ids.index(eos, len(prompt_ids)) + 1
            labels = [-100] * len(ids)
            labels[len(prompt_ids):end] = ids[len(prompt_ids):end]
            with torch.no_grad():
                loss = model(torch.tensor([ids]), labels=torch.tensor([labels])).loss
            entry["sft"] = {"labels": labels, "answer_token_span": [len(prompt_ids), end],
                            "n_loss_tokens": end - len(prompt_ids), "hf_loss_mean_nll": round(float(loss), 6)}
        cases[name] = entry
        tensors[f"{name}.last"] = last.float().contiguous()
        tensors[f"{name}.last_f64"] = last.double().contiguous()
        if name == "plain_capital":
            tensors[f"{name}.all"] = logits.float().contiguous()
    json.dump({"source_gguf": f, "cases": cases}, open(os.path.join(out_dir, "smollm2.json"), "w"))
    save_file(tensors, os.path.join(out_dir, "smollm2_logits.safetensors"))

    tc = json.load(open(os.path.join(out_dir, "tokenizer_cases.json")))
    for case in tc["cases"]:
        case["ids"] = tok(case["text"], add_special_tokens=False)["input_ids"]
        case["tokens"] = tok.convert_ids_to_tokens(case["ids"])
        case["decode_roundtrip_equal"] = tok.decode(case["ids"]) == case["text"]
    json.dump(tc, open(os.path.join(out_dir, "tokenizer_cases.json"), "w"))


def unpermute(w, heads):
    out, inp = w.shape
    return w.reshape(heads, out // heads // 2, 2, inp).swapaxes(1, 2).reshape(out, inp)


def gguf_checksums(gguf_path, out_dir):
    reader = GGUFReader(gguf_path)
    rows = []
    for t in reader.tensors:
        values = dequantize(t.data, t.tensor_type).astype(np.float32).reshape(-1)
        x = values.astype(np.float64)
        rows.append({
            "gguf_name": t.name, "ggml_type": t.tensor_type.name, "ggml_ne": [int(n) for n in t.shape],
            "first_block_hex": bytes(np.asarray(t.data).reshape(-1).view(np.uint8)[:34 if t.tensor_type.name == "Q8_0" else 20 if t.tensor_type.name == "Q4_1" else 4]).hex(),
            "first32_dequant": [float(v) for v in values[:32]],
            "sum": float(x.sum()), "sum_abs": float(np.abs(x).sum()), "sum_sq": float((x * x).sum()),
        })
    json.dump({"tensors": rows}, open(os.path.join(out_dir, "gguf_dequant.json"), "w"))


def tiny_mistral(out_dir):
    old = json.load(open(os.path.join(out_dir, "tiny_mistral.json")))
    model = MistralForCausalLM.from_pretrained(os.path.join(out_dir, "tiny-mistral"), torch_dtype=torch.float32).eval()
    tensors, cases = {}, {}
    for name, case in old["cases"].items():
        ids = case["ids"]
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0]
            model.config.sliding_window = None
            nowindow = model(torch.tensor([ids])).logits[0]
            model.config.sliding_window = 16
        new, margins = greedy(model, ids, 32)
        cases[name] = {"ids": ids, "n_tokens": len(ids), "argmax_per_position": logits.argmax(-1).tolist(),
                       "per_token_logprobs": per_token_logprobs(logits, ids),
                       "greedy32": {"ids": new, "top1_top2_margin_min": min(margins)}}
        tensors[name] = logits.contiguous()
        tensors[f"{name}.nowindow"] = nowindow.contiguous()
    json.dump({"config": model.config.to_dict(), "cases": cases}, open(os.path.join(out_dir, "tiny_mistral.json"), "w"))
    save_file(tensors, os.path.join(out_dir, "tiny_mistral_logits.safetensors"))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    smollm2(args.gguf, args.out)
    gguf_checksums(args.gguf, args.out)
    tiny_mistral(args.out)
    print("fixtures written to", args.out)
