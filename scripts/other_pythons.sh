#!/usr/bin/env bash
# `make test`, beside pytest (scripts/suite.sh): the unit tests and the contract gates on every
# other supported Python that this machine has (`pyenv versions`, else python3.X on PATH). The default
# interpreter's venv (.venv) runs the whole suite; each other one gets .venv-3.X (git-ignored),
# built once and rebuilt when pyproject.toml changes.
set -euo pipefail
cd "$(dirname "$0")/.."
SUPPORTED="3.11 3.12 3.13"
default=$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')

find_python() {  # $1 = 3.X: print an interpreter path, or nothing
  local v=$1 bare
  if command -v pyenv >/dev/null 2>&1; then
    bare=$(pyenv versions --bare 2>/dev/null | grep -E "^${v//./\\.}\.[0-9]+$" | sort -V | tail -1 || true)
    if [ -n "$bare" ] && [ -x "$(pyenv root)/versions/$bare/bin/python" ]; then
      echo "$(pyenv root)/versions/$bare/bin/python"; return
    fi
  fi
  command -v "python$v" 2>/dev/null || true
}

ran=()
for v in $SUPPORTED; do
  [ "$v" = "$default" ] && continue
  py=$(find_python "$v")
  if [ -z "$py" ]; then
    echo "==> Python $v: not installed on this machine (pyenv versions), not tested" >&2
    continue
  fi
  venv=".venv-$v"
  stamp="$venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)"
  if [ ! -f "$stamp" ]; then
    echo "==> Python $v: building $venv with $py" >&2
    rm -rf "$venv"
    "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -e '.[dev]'
    touch "$stamp"
  fi
  echo "==> Python $v ($("$venv/bin/python" -c 'import sys; print(sys.version.split()[0])')): contract gates and unit tests" >&2
  "$venv/bin/txn-contract" generate --check
  "$venv/bin/txn-contract" check
  "$venv/bin/pytest" -q -p no:cacheprovider tests/unit
  ran+=("$v")
done
echo "==> other supported Pythons tested: ${ran[*]:-none}" >&2
