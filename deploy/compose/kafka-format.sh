#!/bin/sh
# Formats the broker's storage once, with every SCRAM user (service kafka-format of
# docker-compose.yml, before the broker starts; docs/security.md, "Docker Compose"):
#
#   sh kafka-format.sh SCRAM_ARGS
#
# SCRAM credentials can only be bootstrapped at format time (`kafka-storage format
# --add-scram`): the admin principal must exist before anyone can authenticate to add users.
# The apache/kafka image formats without them on its first start, and accepts a storage that
# is already formatted, so this one-shot formats first with the broker's own configuration,
# rendered from the same KAFKA_* variables the image renders (KAFKA_A_B__C___D -> a.b_c-d).
# SCRAM_ARGS holds `--add-scram` arguments with salted passwords (scripts/compose_secrets.py);
# they reach the storage tool through a Java @argfile, never a command line. A storage that is
# already formatted is left as it is (--ignore-formatted).
set -eu
if [ "$#" -ne 1 ] || [ ! -r "$1" ]; then
  echo "usage: kafka-format.sh SCRAM_ARGS (a readable file)" >&2
  exit 64
fi
: "${CLUSTER_ID:?kafka-format.sh: CLUSTER_ID is not set}"
run_class=${KAFKA_RUN_CLASS:-/opt/kafka/bin/kafka-run-class.sh}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
config=$work/server.properties
env | sort | while IFS= read -r line; do
  name=${line%%=*}
  case $name in
    KAFKA_OPTS | KAFKA_*_OPTS | KAFKA_VERSION | KAFKA_LOG4J_* | KAFKA_TOOLS_LOG4J_* | KAFKA_JMX_*) continue ;;
    KAFKA_RUN_CLASS) continue ;;
    KAFKA_*) ;;
    *) continue ;;
  esac
  key=$(printf '%s' "${name#KAFKA_}" | tr '[:upper:]' '[:lower:]' | sed -e 's/___/-/g' -e 's/__/@/g' -e 's/_/./g' -e 's/@/_/g')
  printf '%s=%s\n' "$key" "${line#*=}"
done >"$config"
{
  printf '%s\n' kafka.tools.StorageTool format --config "$config" --cluster-id "$CLUSTER_ID" --ignore-formatted
  cat "$1"
} >"$work/format.args"
"$run_class" "@$work/format.args"
