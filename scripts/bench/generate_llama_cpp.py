"""llama.cpp side of `cargo xtask bench generate` (llama-cpp-python, pinned in
requirements-llama.txt): the workloads of crates/cai-model/benches/generate.rs that llama.cpp's
single-sequence API runs, on the same GGUF, 2 threads.

Usage: generate_llama_cpp.py GGUF_PATH f32|q4_1 OUT.json

`q4_1` runs the file as it is (SmolLM2's Q4_1); `f32` first writes an all-f32 copy beside OUT.json
with llama.cpp's own quantizer (LLAMA_FTYPE_ALL_F32, requantizing allowed) and runs that. One
process per file, so the peak RSS is that file's. Prefill at batch 8 and the 32-prompt rollout
need several sequences in one batch, which llama-cpp-python's `Llama` object does not offer: those
metrics are absent from the output, not zero.
"""
import ctypes
import itertools
import json
import os
import sys

import llama_cpp

from bench_common import (
    DECODE_PROMPT,
    DECODE_TOKENS,
    PREFILL_TOKENS,
    peak_rss_mib,
    prompt_ids,
    timed,
)
THREADS = 2


def f32_copy(gguf, out_dir):
    path = os.path.join(out_dir, "smollm2-f32.gguf")
    if not os.path.exists(path):
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = llama_cpp.LLAMA_FTYPE_ALL_F32
        params.allow_requantize = True
        params.nthread = THREADS
        tmp = path + ".tmp"
        rc = llama_cpp.llama_model_quantize(gguf.encode(), tmp.encode(), ctypes.byref(params))
        if rc != 0:
            sys.exit(f"llama_model_quantize to f32 failed ({rc})")
        os.replace(tmp, path)
    return path


def main(gguf, kind, out):
    path = f32_copy(gguf, os.path.dirname(os.path.abspath(out))) if kind == "f32" else gguf
    llm = llama_cpp.Llama(
        model_path=path,
        n_ctx=512,
        n_batch=PREFILL_TOKENS,
        n_ubatch=PREFILL_TOKENS,
        n_threads=THREADS,
        n_threads_batch=THREADS,
        verbose=False,
    )

    def prefill():
        llm.reset()
        llm.eval(prompt_ids(0, PREFILL_TOKENS))

    def greedy(steps):
        llm.reset()
        tokens = llm.generate(prompt_ids(0, DECODE_PROMPT), top_k=1, temp=0.0, reset=False)
        for _ in itertools.islice(tokens, steps):
            pass

    total = timed(2, lambda: greedy(DECODE_TOKENS))
    first = timed(2, lambda: greedy(1))
    result = {
        "prefill_b1_tok_s": PREFILL_TOKENS / timed(3, prefill),
        "decode_b1_tok_s": (DECODE_TOKENS - 1) / (total - first),
        "peak_rss_mib": peak_rss_mib(),
        "threads": THREADS,
        "llama_cpp_python": llama_cpp.__version__,
        "file": os.path.basename(path),
    }
    print(json.dumps(result))
    json.dump(result, open(out, "w"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
