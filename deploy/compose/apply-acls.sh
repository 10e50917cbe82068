#!/bin/sh
# Grants the ACL table (deploy/compose/acls.txt, generated from the local platform's table by
# scripts/compose_secrets.py) with Kafka's own kafka-acls.sh, as the admin principal:
#
#   sh apply-acls.sh BOOTSTRAP CLIENT_PROPERTIES ACL_TABLE
#
# One `kafka-acls.sh --add` per line `principal resource name Operation,...` (resource: topic,
# group or cluster; names literal). Adding an ACL that exists is a no-op, so the one-shot can
# run at every `docker compose up`. It only adds: a grant removed from the table stays on the
# broker until removed by hand (docs/security.md, "Docker Compose").
set -eu
if [ "$#" -ne 3 ]; then
  echo "usage: apply-acls.sh BOOTSTRAP CLIENT_PROPERTIES ACL_TABLE" >&2
  exit 64
fi
bootstrap=$1
config=$2
table=$3
tool=${KAFKA_ACLS_TOOL:-/opt/kafka/bin/kafka-acls.sh}
applied=0
while read -r principal resource name operations extra || [ -n "${principal:-}" ]; do
  case ${principal:-#} in
    \#*) continue ;;
  esac
  if [ -z "${operations:-}" ] || [ -n "${extra:-}" ]; then
    echo "apply-acls.sh: $table: not 'principal resource name operations': $principal $resource $name" >&2
    exit 65
  fi
  set -- --bootstrap-server "$bootstrap" --command-config "$config" --add \
    --allow-principal "User:$principal"
  case $resource in
    topic) set -- "$@" --topic "$name" ;;
    group) set -- "$@" --group "$name" ;;
    cluster) set -- "$@" --cluster ;;
    *)
      echo "apply-acls.sh: $table: unknown resource type $resource" >&2
      exit 65
      ;;
  esac
  for operation in $(echo "$operations" | tr ',' ' '); do
    set -- "$@" --operation "$operation"
  done
  "$tool" "$@"
  applied=$((applied + 1))
done <"$table"
echo "apply-acls.sh: granted $applied line(s) of $table"
