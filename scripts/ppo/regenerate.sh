#!/usr/bin/env bash
# Regenerates crates/cai-ppo/tests/fixtures/ppo_reference.json with transformers (pinned versions in
# scripts/golden/requirements.txt, the same venv as the golden fixtures).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${CAI_PY_VENV:-$HOME/.cache/cai-rs/golden-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r "$root/scripts/golden/requirements.txt"
fi
cd "$root"
export OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
"$venv/bin/python" "$here/make_reference.py" "$@"
