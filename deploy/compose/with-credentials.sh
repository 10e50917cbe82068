#!/bin/sh
# Runs a command with one principal's credentials, read from its Docker secret
# (docker-compose.yml: the `entrypoint:` of every service of ours that talks to Kafka or the
# registry; docs/security.md, "Docker Compose"):
#
#   sh with-credentials.sh /run/secrets/producer.env txn-producer [ARGS...]
#
# The file is a credentials file as scripts/compose_secrets.py and `txn-platform up --secure`
# write them (KEY=value lines). Only the credential variables are exported (KAFKA_SASL_*,
# SCHEMA_REGISTRY_BASIC_AUTH_*, what txn_runtime.connections reads), verbatim: the file is
# read, never sourced, so nothing in it runs or expands. Then the command replaces this shell.
# The values reach the command's environment only: not a command line (ps), not the
# container's configuration (docker inspect), not the compose file.
set -eu
if [ "$#" -lt 2 ]; then
  echo "usage: with-credentials.sh CREDENTIALS_FILE COMMAND [ARGS...]" >&2
  exit 64
fi
file=$1
shift
if [ ! -r "$file" ]; then
  echo "with-credentials.sh: cannot read $file (is the service given its secret?)" >&2
  exit 66
fi
found=0
while IFS= read -r line || [ -n "$line" ]; do
  case $line in
    KAFKA_SASL_*=* | SCHEMA_REGISTRY_BASIC_AUTH_*=*) ;;
    *) continue ;;
  esac
  name=${line%%=*}
  case $name in
    *[!A-Z0-9_]*) continue ;;
  esac
  export "$name=${line#*=}"
  found=$((found + 1))
done <"$file"
if [ "$found" -eq 0 ]; then
  echo "with-credentials.sh: $file holds no KAFKA_SASL_* or SCHEMA_REGISTRY_BASIC_AUTH_* line" >&2
  exit 65
fi
exec "$@"
