#!/usr/bin/env bash
# Regenerates crates/cai-model/tests/fixtures/* from transformers, offline after the first install.
# Usage: scripts/golden/regenerate.sh [path/to/SmolLM2-135M-Instruct.Q4_1.gguf]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${CAI_PY_VENV:-$HOME/.cache/cai-rs/golden-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r "$here/requirements.txt"
fi
gguf="${1:-$(cargo run --quiet -p cai-cli --bin cai-model -- fetch)}"
export OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
"$venv/bin/python" "$here/make_golden.py" --gguf "$gguf" --out "$root/crates/cai-model/tests/fixtures"
