#!/usr/bin/env bash
# `npm test`: brings up what the tests need (a Kafka broker and a schema registry, reusing ones that are
# already up; Postgres is the machine's server at DATABASE_URL), type-checks, runs every test file with
# Node's test runner, then stops what it started — also when a test fails.
#   npm test                      all tiers
#   npm test -- unit              only test/unit (needs no servers)
#   npm test -- FILE…             only those files
set -uo pipefail
cd "$(dirname "$0")/.."

files=()
tier=${1:-all}
case "$tier" in
  all) mapfile -t files < <(find test/unit test/integration -name '*.test.ts' | sort);;
  unit|integration) mapfile -t files < <(find "test/$tier" -name '*.test.ts' | sort);;
  *) files=("$@");;
esac

# Tests reach the servers this script starts (deploy/infra.sh honours KAFKA_PORT and REGISTRY_PORT).
export KAFKA_BROKERS=${KAFKA_BROKERS:-127.0.0.1:${KAFKA_PORT:-9092}}
export SCHEMA_REGISTRY_URL=${SCHEMA_REGISTRY_URL:-http://127.0.0.1:${REGISTRY_PORT:-8081}/apis/ccompat/v7}

started=()
stop_started() {
  for c in "${started[@]}"; do bash deploy/infra.sh down "$c" || true; done
}
trap stop_started EXIT

needs_servers=0
for f in "${files[@]}"; do case "$f" in *unit*) ;; *) needs_servers=1;; esac; done
if [ "$needs_servers" = 1 ]; then
  out=$(bash deploy/infra.sh up all) || { echo "$out"; exit 1; }
  echo "$out"
  while read -r component state; do [ "$state" = started ] && started+=("$component"); done <<< "$out"
  pg_isready -q -d "${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test}" 2>/dev/null ||
    echo "warning: Postgres does not answer at ${DATABASE_URL:-127.0.0.1:5432}; database tests will fail" >&2
fi

npx tsc --noEmit -p . || exit 1
# npm ci builds the kernels; this rebuilds one whose source changed since (a no-op otherwise).
npm run --silent build:kernels || exit 1
node --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-2}" "${files[@]}"
