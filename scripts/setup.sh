#!/usr/bin/env bash
# Installs what `make run` / `make test` need, only what is missing, so later runs take seconds.
#   scripts/setup.sh run   PostgreSQL + PostGIS (unless DATABASE_URL is set), Python venv, web assets
#   scripts/setup.sh test  the same, plus GDAL (ogrinfo) and Chromium for the end-to-end tests
# As root, missing system packages are installed with apt-get; otherwise it stops and prints
# the exact command to run.
set -euo pipefail
cd "$(dirname "$0")/.."
purpose="${1:-run}"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# --- system packages -----------------------------------------------------------------------
missing=()

pg_major() {
  local best=""
  for d in /usr/lib/postgresql/*/bin/postgres; do
    [ -x "$d" ] || continue
    v=$(basename "$(dirname "$(dirname "$d")")")
    if [ -z "$best" ] || [ "$v" -gt "$best" ]; then best=$v; fi
  done
  echo "$best"
}

default_pg_major() {
  # The distribution's default PostgreSQL (postgresql -> postgresql-NN).
  apt-cache depends postgresql 2>/dev/null | sed -n 's/.*Depends: postgresql-\([0-9][0-9]*\)$/\1/p' | head -n1
}

db_url_var=DATABASE_URL
[ "$purpose" = test ] && db_url_var=TEST_DATABASE_URL
if [ -z "${!db_url_var:-}" ]; then
  major=$(pg_major)
  if [ -z "$major" ]; then
    major=$(default_pg_major || true)
    [ -n "$major" ] || major=15
    missing+=("postgresql-$major")
  fi
  [ -f "/usr/share/postgresql/$major/extension/postgis.control" ] || missing+=("postgresql-$major-postgis-3")
fi
command -v npm >/dev/null || missing+=(nodejs npm)
if [ "$purpose" = test ]; then
  command -v ogrinfo >/dev/null || missing+=(gdal-bin)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
fi
python_bin=""
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    python_bin=$(command -v "$candidate"); break
  fi
done
[ -n "$python_bin" ] || missing+=(python3 python3-venv)
if [ -n "$python_bin" ] && [ ! -x .venv/bin/python ] && ! "$python_bin" -c 'import ensurepip' 2>/dev/null; then
  missing+=(python3-venv)
fi

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    say "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    die "missing system packages: ${missing[*]}
  run:  sudo apt-get update && sudo apt-get install -y ${missing[*]}
  then run this command again."
  fi
  if [ -z "$python_bin" ]; then python_bin=$(command -v python3); fi
fi

# --- Python --------------------------------------------------------------------------------
stamp_of() { sha256sum "$@" | sha256sum | cut -c1-16; }

if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $("$python_bin" --version)"
  "$python_bin" -m venv .venv
fi
want=$(stamp_of pyproject.toml)
if [ "$(cat .venv/.gridgov-installed 2>/dev/null || true)" != "$want" ]; then
  say "installing Python packages into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
  echo "$want" > .venv/.gridgov-installed
fi

# --- web assets (served from /static, never from a CDN) ------------------------------------
want=$(stamp_of package.json package-lock.json)
if [ "$(cat node_modules/.gridgov-installed 2>/dev/null || true)" != "$want" ]; then
  say "installing web assets into node_modules (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  echo "$want" > node_modules/.gridgov-installed
fi
