#!/usr/bin/env bash
# Build the wheel, install it into a fresh virtualenv, and use it the way a user would:
# the console script answers, and it can install its git hooks from the files shipped inside the wheel.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" "$root"
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet "$work"/dist/*.whl
"$work/venv/bin/appsync" --version
"$work/venv/bin/appsync" --help >/dev/null

repo="$work/repo"
git init --quiet "$repo"
cd "$repo"
APPSYNC_PASSWORD=unused "$work/venv/bin/appsync" init --url http://127.0.0.1:9 >/dev/null
"$work/venv/bin/appsync" hooks install
grep -q "structr_appsync" .git/hooks/pre-commit
echo "wheel smoke test passed"
