#!/usr/bin/env bash
# Installs the client generators that tests/generated_clients.rs drives, pinned, into
# target/clients/ (a Python venv and an npm prefix), from PyPI and the npm registry only.
# Idempotent: a second run with the same pins changes nothing. Run from anywhere.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dir="$root/target/clients"
mkdir -p "$dir"

# Bump these deliberately: a new generator version can change module names the flow uses.
python_packages=(openapi-spec-validator==0.9.0 openapi-python-client==0.29.1)
npm_packages=(openapi-typescript@7.13.0 typescript@5.9.3)

if [ ! -x "$dir/venv/bin/python" ]; then
    python3 -m venv "$dir/venv"
fi
"$dir/venv/bin/python" -m pip install --quiet --disable-pip-version-check "${python_packages[@]}"

npm install --silent --no-audit --no-fund --prefix "$dir/npm" "${npm_packages[@]}"
