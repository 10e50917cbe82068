#!/usr/bin/env bash
# `make test`, after the gates: the whole pytest suite on the default interpreter (.venv) and,
# beside it, scripts/other_pythons.sh (the other supported Pythons' venvs, contract gates and
# unit tests). They run at the same time because the other Pythons' part is mostly pip and
# short unit runs: one after the other cost ~3 minutes of wall time. Its output goes to
# .local/other-pythons.log and is printed when pytest ends; either failing fails the run.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .local
log=.local/other-pythons.log
# Niced: pytest's Spark jobs keep the cores; pip and the short unit runs fill the gaps.
nice -n 15 bash scripts/other_pythons.sh >"$log" 2>&1 &
others=$!
# Ctrl-C or a kill stops both parts, not only pytest.
trap 'kill -TERM "$others" 2>/dev/null; wait "$others" 2>/dev/null; exit 130' INT TERM

# The slowest tests are printed: where the suite's time goes, on every run.
.venv/bin/pytest --durations=15 "$@"
suite=$?
echo "==> waiting for the other supported Pythons (scripts/other_pythons.sh, log: $log)" >&2
wait "$others"
rest=$?
cat "$log" >&2
if [ "$suite" -ne 0 ] || [ "$rest" -ne 0 ]; then
  echo "==> make test failed: pytest exit $suite, other Pythons exit $rest" >&2
  exit 1
fi
