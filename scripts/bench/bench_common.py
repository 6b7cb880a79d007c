"""What the generation benchmarks share across engines: the workload sizes, the pseudo-text
prompts (the same ids as `cai_cli::bench::pseudo_text_ids`), median timing and peak RSS."""

import time

PREFILL_TOKENS, DECODE_PROMPT, DECODE_TOKENS = 256, 32, 128
ROLLOUT_PROMPTS, ROLLOUT_TOKENS = 32, 128


def prompt_ids(row, length):
    return [(i * 7919 + row * 104729) % 48000 + 100 for i in range(length)]


def timed(reps, fn):
    """Median wall time of `fn` over `reps` runs after one warm-up."""
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
