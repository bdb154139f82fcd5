#!/usr/bin/env bash
# Installs what `make run` / `make test` need, only what is missing, so later runs take seconds.
#   scripts/setup.sh run   PostgreSQL + PostGIS (unless DATABASE_URL is set), .venv from requirements.lock, web assets
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
  command -v psql >/dev/null || missing+=(postgresql-client)  # the tests run what `gridgov db url` prints
  [ -x /usr/bin/chromium ] || missing+=(chromium)
fi
python_bin=""
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    python_bin=$(command -v "$candidate"); break
  fi
done
[ -n "$python_bin" ] || missing+=(python3 python3-venv)
# The venv follows requirements.lock (and pyproject.toml): when either changes it is made anew.
stamp_of() { sha256sum "$@" | sha256sum | cut -c1-16; }
python_want=$(stamp_of pyproject.toml requirements.lock)
python_have=$(cat .venv/.gridgov-installed 2>/dev/null || true)
if [ -n "$python_bin" ] && [ "$python_have" != "$python_want" ] && ! "$python_bin" -c 'import ensurepip' 2>/dev/null; then
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

# --- Python: exactly the versions, and files, of requirements.lock (`make lock` re-locks) --------
if [ "$python_have" != "$python_want" ]; then
  # Like npm ci: a fresh venv, so nothing an older lock installed stays behind.
  if [ -e .venv ]; then say "requirements.lock or pyproject.toml changed: making .venv anew"; rm -rf .venv; fi
  say "creating .venv with $("$python_bin" --version)"
  "$python_bin" -m venv .venv
  say "installing the Python packages of requirements.lock into .venv"
  pip=(.venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes --no-deps)
  # The locked pip and setuptools first: they install the rest, and build what comes as source
  # (prcoords, the project itself) without fetching any build dependency of the day.
  awk '/^[A-Za-z0-9]/ { keep = ($1 ~ /^(pip|setuptools)==/) } keep' requirements.lock > .venv/tools.lock
  "${pip[@]}" -r .venv/tools.lock
  "${pip[@]}" --no-build-isolation -r requirements.lock
  # Quiet unless it fails: setuptools warns about folders named like packages at every editable install.
  if ! out=$(.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e . 2>&1); then
    die "安装 gridgov 失败 — pip install -e . failed:
$out"
  fi
  if ! problems=$(.venv/bin/python -m pip check 2>&1); then
    die "requirements.lock 与 pyproject.toml 不符 — the lock does not satisfy pyproject.toml:
$problems
  run:  make lock   (then commit requirements.lock)"
  fi
  echo "$python_want" > .venv/.gridgov-installed
fi

# --- web assets (served from /static, never from a CDN) ------------------------------------
want=$(stamp_of package.json package-lock.json)
if [ "$(cat node_modules/.gridgov-installed 2>/dev/null || true)" != "$want" ]; then
  say "installing web assets into node_modules (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  echo "$want" > node_modules/.gridgov-installed
fi
