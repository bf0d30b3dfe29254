#!/usr/bin/env bash
# The whole test suite: lint, type check, tests (scenarios included). Sets up first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff" && ruff check .
echo "== mypy" && mypy
echo "== pytest" && pytest "$@"
