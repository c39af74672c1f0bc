#!/usr/bin/env bash
# Sets everything up (deploy/setup.sh), then runs the linters, the type
# checker, the rules validation and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/setup.sh
export OMP_THREAD_LIMIT=1
echo "== ruff";   .venv/bin/ruff check bot tests fixtures bench
echo "== mypy";   .venv/bin/mypy
echo "== rules";  .venv/bin/pecbot rules
echo "== pytest"
# pytest exits 5 when it collected no test: that is a failure for us too.
.venv/bin/python -m pytest -n "${PECBOT_TEST_WORKERS:-2}" -q "$@"
