#!/usr/bin/env python3
"""Measures SL-CAI generation settings on held-out red-team prompts (issue 18, item 1–2).

The tuning prompts are the last prompt of each of the corpus's 16 categories: the pipeline takes
prompts from the front of the file (`--limit N`, categories in turn), so these are never trained on
by the default profile (it uses far fewer than 190 prompts). Each variant runs `cai-critique` with
the stage's default filters and reports, from its `summary.json`: samples kept, dropped as cut off,
off topic, empty or echoing; kept samples that decline (refuse or redirect); and the wall time.

usage: scripts/sl-cai/measure.py --bin target/release/cai-critique --out /tmp/sl-cai-measure \
           [--tokens 128] [VARIANT ...]
Variants are named below; with none, all run. Results are cached by the stage's own resumption, so a
re-run only generates what is missing. Writes OUT/results.json and prints a Markdown table.
"""

import argparse
import json
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
CORPUS = ROOT / "crates/cai-data/corpus/red_team.jsonl"

BRIEF = "You are a helpful and harmless assistant. Reply in at most three sentences."

# name -> extra flags; every variant changes one thing from the one it names in its comment.
VARIANTS = {
    # NeMo's settings: greedy, repetition penalty 1.2 over prompt and answer, all 4 demonstrations,
    # principles drawn at random.
    "nemo": [],
    # The penalty only over generated tokens (the prompt's topic words are not penalised).
    "penalty-generated": ["--penalize-prompt", "false"],
    # No repetition penalty.
    "penalty-off": ["--repetition-penalty", "1.0"],
    # One demonstration instead of four (a shorter prefix for a 135M model).
    "one-shot": ["--few-shot", "1"],
    "one-shot-penalty-generated": ["--few-shot", "1", "--penalize-prompt", "false"],
    # Principles matched to the prompt's category.
    "category": ["--principle-choice", "category"],
    "category-one-shot-penalty-generated": [
        "--principle-choice", "category", "--few-shot", "1", "--penalize-prompt", "false",
    ],
    # A system prompt asking for short replies, so fewer revisions hit the token limit.
    "category-one-shot-penalty-generated-brief": [
        "--principle-choice", "category", "--few-shot", "1", "--penalize-prompt", "false",
        "--system-prompt", BRIEF,
    ],
    # Best of three revisions: filter-passing candidates first, then the model's judgement.
    "category-one-shot-penalty-generated-brief-best3": [
        "--principle-choice", "category", "--few-shot", "1", "--penalize-prompt", "false",
        "--system-prompt", BRIEF, "--revision-candidates", "3",
    ],
    # The brief system prompt with all four demonstrations.
    "category-penalty-generated-brief": [
        "--principle-choice", "category", "--penalize-prompt", "false", "--system-prompt", BRIEF,
    ],
    # Best of two revisions, judged by the model against the principle.
    "category-one-shot-penalty-generated-best2": [
        "--principle-choice", "category", "--few-shot", "1", "--penalize-prompt", "false",
        "--revision-candidates", "2",
    ],
}


def tuning_prompts(out: pathlib.Path) -> pathlib.Path:
    last = {}
    for line in CORPUS.read_text().splitlines():
        record = json.loads(line)
        last[record["category"]] = line
    path = out / "tuning_prompts.jsonl"
    path.write_text("".join(line + "\n" for line in sorted(last.values())))
    return path


def run(binary: str, prompts: pathlib.Path, out: pathlib.Path, tokens: int, name: str) -> dict:
    stage = out / name
    command = [
        binary, "--prompts", str(prompts), "--out", str(stage), "--batch-size", "8",
        "--tokens-to-generate", str(tokens), *VARIANTS[name],
    ]
    started = time.monotonic()
    subprocess.run(command, check=True, cwd=ROOT)
    wall = time.monotonic() - started
    summary = json.loads((stage / "summary.json").read_text())
    counts = summary["counts"]
    dropped = counts["dropped"]
    traces = counts["traces"]
    return {
        "variant": name,
        "flags": " ".join(VARIANTS[name]) or "(defaults)",
        "prompts": traces,
        "kept": counts["sl_cai_samples"],
        "truncated": dropped.get("truncated", 0),
        "off_topic": dropped.get("off_topic", 0),
        "empty_or_echo": dropped.get("empty_revision", 0) + dropped.get("echoes_critique", 0)
        + dropped.get("commentary", 0),
        "declining_kept": counts.get("declining_samples", 0),
        "generation_secs": summary["run"]["wall_secs"] if summary["run"]["prompts_generated"] else None,
        "wall_secs_this_call": round(wall, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True, help="cai-critique binary (release)")
    parser.add_argument("--out", required=True, type=pathlib.Path)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("variants", nargs="*")
    args = parser.parse_args()
    names = args.variants or list(VARIANTS)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; known: {list(VARIANTS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    prompts = tuning_prompts(args.out)
    results_path = args.out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    for name in names:
        result = run(args.bin, prompts, args.out, args.tokens, name)
        if result["generation_secs"] is None and name in results:
            # Resumed without generating: the time of the run that generated stays.
            result["generation_secs"] = results[name]["generation_secs"]
        results[name] = result
        results_path.write_text(json.dumps(results, indent=2) + "\n")
    print("| variant | kept | cut off | off topic | empty/echo/commentary | kept that decline | generation s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in names:
        r = results[name]
        secs = "–" if r["generation_secs"] is None else f"{r['generation_secs']:.0f}"
        print(
            f"| {name} | {r['kept']}/{r['prompts']} | {r['truncated']} | {r['off_topic']} | "
            f"{r['empty_or_echo']} | {r['declining_kept']} | {secs} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
