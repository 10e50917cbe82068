#!/usr/bin/env bash
# `make demo`: the pipeline on the embedded default. Each step announces itself.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
STATE_DIR=${TXN_STATE_DIR:-$PWD/.local}
step() { printf '\n==> %s\n' "$*" >&2; }

cleanup() {
  if [ "${KEEP:-0}" = "1" ]; then
    step "KEEP=1: the platform stays up; reach it with: . $STATE_DIR/platform.env ; stop it with: $BIN/txn-platform down --state-dir $STATE_DIR"
  else
    step "Stopping the local platform"
    $BIN/txn-platform down --state-dir "$STATE_DIR"
  fi
}
trap cleanup EXIT

step "Starting the local platform (Kafka KRaft broker + schema registry) in $STATE_DIR"
$BIN/txn-platform up --state-dir "$STATE_DIR" >/dev/null
step "Platform status"
$BIN/txn-platform status --state-dir "$STATE_DIR"
