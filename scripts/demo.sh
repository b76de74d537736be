#!/usr/bin/env bash
# The README's main command: a synthetic Ho Chi Minh City on this laptop.
#
#   ./scripts/demo.sh                 # extra arguments go to `dancu demo`
#
# Needs only a Python >= 3.11 that can create a venv (on Debian: python3-venv,
# installed here if missing). The database is SQLite in .dancu/ unless
# DANCU_DATABASE_URL points elsewhere.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

((${#DANCU_RUNTIME_DEBS[@]} == 0)) || ensure_debs "${DANCU_RUNTIME_DEBS[@]}"
ensure_venv ""
exec .venv/bin/dancu demo "$@"
