#!/usr/bin/env bash
# Re-locks requirements.lock from pyproject.toml with the uv that the lock itself pins (.venv/bin/uv).
#   make lock                                    keep every pin that still fits; resolve what pyproject changed
#   make lock LOCK_ARGS=--upgrade                the newest versions of everything pyproject allows
#   make lock LOCK_ARGS='--upgrade-package shapely'
# One version of each package for every Python ≥ 3.11 and platform (--fork-strategy fewest), with the
# hash of every file, so a fresh machine installs the versions the suite passed with.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/uv ]; then
  printf '\033[31merror:\033[0m %s\n' ".venv/bin/uv 不存在 — no .venv/bin/uv yet: run make test once (it installs the locked uv), then make lock" >&2
  exit 1
fi
exec .venv/bin/uv pip compile pyproject.toml --extra dev --group tools --universal --fork-strategy fewest \
  --generate-hashes --custom-compile-command "make lock" --quiet -o requirements.lock "$@"
