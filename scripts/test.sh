#!/usr/bin/env bash
# Run proxygen's whole test suite, installing what it needs first (see scripts/bootstrap.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --test
exec .venv/bin/python -m pytest "$@"
