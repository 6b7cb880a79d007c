#!/usr/bin/env bash
# Creates (or reuses) the virtual environment with the pinned Python clients that check cai-serve:
# $CAI_SERVE_VENV, default ~/.cache/cai-rs/serve-venv. Prints the venv's python path.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${CAI_SERVE_VENV:-$HOME/.cache/cai-rs/serve-venv}"
stamp="$venv/.requirements"
if [[ ! -x "$venv/bin/python" ]]; then
  # Debian's python3 needs python3-venv for `-m venv`; virtualenv (from PyPI) works without it.
  if ! python3 -m venv "$venv" >&2; then
    rm -rf "$venv"
    python3 -m pip install --quiet --user virtualenv >&2
    python3 -m virtualenv --quiet "$venv" >&2
  fi
fi
if ! cmp -s "$here/requirements.txt" "$stamp"; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2
  cp "$here/requirements.txt" "$stamp"
fi
echo "$venv/bin/python"
