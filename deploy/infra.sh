#!/usr/bin/env bash
# Runs the infrastructure the product needs without Docker: a real Apache Kafka broker (KRaft, one node)
# and Apicurio Registry (Confluent-compatible API under /apis/ccompat/v7), both fetched as jars from Maven
# Central and run with the machine's Java. Postgres is the machine's own server (DATABASE_URL); the registry
# keeps its schemas there (Apicurio's SQL storage, database REGISTRY_DATABASE_URL, created if missing), so a
# restarted registry hands out the same schema ids. Each registry port has its own pid and log files, so a
# second registry (REGISTRY_PORT=18081 REGISTRY_DATABASE_URL=…/other) runs beside the first. Likewise a broker
# on any port but 9092 keeps its data, pid, log and properties in a folder of its own, so a second broker
# (KAFKA_PORT=19092 KAFKA_CONTROLLER_PORT=19093) runs beside the first on its own data.
#
#   deploy/infra.sh fetch  [kafka|registry|all]   download into .infra/ (a second run downloads nothing)
#   deploy/infra.sh up     [kafka|registry|all]   fetch, start and wait until it answers; reuses one already up
#   deploy/infra.sh down   [kafka|registry|all]   stop what this script started (SIGTERM, then SIGKILL)
#   deploy/infra.sh status [kafka|registry|all]
#   deploy/infra.sh reset  kafka                  stop and delete the broker's data
#   deploy/infra.sh fetch  kafka-tools            Kafka's perf tools (kafka-tools jar); prints their classpath
#
# `up` prints "started" or "reused" per component so callers (test/run.sh) know what to stop afterwards.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
INFRA=${DEEPCHAIN_INFRA_DIR:-$ROOT/.infra}
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$ROOT/deploy/kafka/pom.xml")
APICURIO_VERSION=${APICURIO_VERSION:-3.0.9}
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
REGISTRY_PORT=${REGISTRY_PORT:-8081}
REGISTRY_URL="http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7"
REGISTRY_START_SECONDS=${REGISTRY_START_SECONDS:-120}
DATABASE_URL=${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test}

log() { echo "[infra] $*" >&2; }
die() { log "error: $*"; exit 1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

command -v java >/dev/null || die "java not found: install a JDK 17 or newer"

# ---------------------------------------------------------------- kafka
kafka_dir=$INFRA/kafka-$KAFKA_VERSION
# The default port keeps the paths of older copies of this script (beside the jars); any other port gets its
# own folder (data, pid, log), which `reset` deletes whole.
if [ "$KAFKA_PORT" = 9092 ]; then kafka_run=$kafka_dir; else kafka_run=$kafka_dir/port-$KAFKA_PORT; fi
kafka_fetch() {
  if [ -f "$kafka_dir/libs/.complete" ]; then return; fi
  command -v mvn >/dev/null || die "mvn not found: Maven is needed to fetch Kafka from Maven Central"
  log "fetching Apache Kafka $KAFKA_VERSION from Maven Central"
  rm -rf "$kafka_dir/libs"; mkdir -p "$kafka_dir/libs"
  mvn -q -B -f "$ROOT/deploy/kafka/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$kafka_dir/libs" >&2
  touch "$kafka_dir/libs/.complete"
}
kafka_java() {
  java -Xms256m -Xmx1g -cp "$kafka_dir/libs/*" \
    -Dlog4j2.configurationFile="$ROOT/deploy/kafka/log4j2.yaml" "$@"
}
kafka_props() {
  cat <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$kafka_run/data
num.partitions=4
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=8
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
message.max.bytes=16777216
PROPS
}
kafka_up() {
  if port_open "$KAFKA_PORT"; then echo "kafka reused"; return; fi
  kafka_fetch
  mkdir -p "$kafka_run"
  kafka_props > "$kafka_run/server.properties"
  if [ ! -f "$kafka_run/data/meta.properties" ]; then
    log "formatting KRaft storage in $kafka_run/data"
    kafka_java kafka.tools.StorageTool format --standalone \
      -t "$(kafka_java kafka.tools.StorageTool random-uuid)" -c "$kafka_run/server.properties" >&2
  fi
  log "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (log: $kafka_run/server.log)"
  nohup bash -c "exec java -Xms256m -Xmx1g -cp '$kafka_dir/libs/*' \
    -Dlog4j2.configurationFile='$ROOT/deploy/kafka/log4j2.yaml' kafka.Kafka '$kafka_run/server.properties'" \
    > "$kafka_run/server.log" 2>&1 &
  echo $! > "$kafka_run/pid"
  for _ in $(seq 1 120); do
    if grep -q "Kafka Server started" "$kafka_run/server.log" 2>/dev/null && port_open "$KAFKA_PORT"; then
      echo "kafka started"; return
    fi
    alive "$kafka_run/pid" || { tail -20 "$kafka_run/server.log" >&2; die "Kafka exited during start"; }
    sleep 0.5
  done
  tail -20 "$kafka_run/server.log" >&2; die "Kafka did not answer on port $KAFKA_PORT within 60 s"
}
# Kafka's own producer/consumer performance tools (test/bench/broker-tools.ts): the kafka-tools jar of the
# broker's version, which Maven Central has apart from the broker; everything else it needs is in libs/.
kafka_tools_fetch() {
  kafka_fetch
  if [ ! -f "$kafka_dir/tools/.complete" ]; then
    log "fetching kafka-tools $KAFKA_VERSION from Maven Central"
    rm -rf "$kafka_dir/tools"; mkdir -p "$kafka_dir/tools"
    mvn -q -B dependency:copy -Dartifact="org.apache.kafka:kafka-tools:$KAFKA_VERSION" \
      -DoutputDirectory="$kafka_dir/tools" >&2
    touch "$kafka_dir/tools/.complete"
  fi
  echo "$kafka_dir/libs/*:$kafka_dir/tools/*"
}
kafka_down() { stop_pid "$kafka_run/pid" kafka; }
kafka_status() { port_open "$KAFKA_PORT" && echo "kafka up on 127.0.0.1:$KAFKA_PORT" || echo "kafka down"; }
kafka_reset() {
  kafka_down; rm -rf "$kafka_run/data"
  if [ "$kafka_run" != "$kafka_dir" ]; then rm -rf "$kafka_run"; fi
  log "kafka data deleted"
}

# ---------------------------------------------------------------- schema registry (Apicurio)
registry_dir=$INFRA/apicurio-$APICURIO_VERSION
registry_fetch() {
  if [ -f "$registry_dir/app/.complete" ]; then return; fi
  command -v mvn >/dev/null || die "mvn not found: Maven is needed to fetch Apicurio Registry from Maven Central"
  log "fetching Apicurio Registry $APICURIO_VERSION from Maven Central"
  rm -rf "$registry_dir"; mkdir -p "$registry_dir/app"
  mvn -q -B dependency:copy -Dartifact="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all" \
    -DoutputDirectory="$registry_dir" >&2
  tar xzf "$registry_dir"/apicurio-registry-app-*.tar.gz -C "$registry_dir/app"
  rm -f "$registry_dir"/apicurio-registry-app-*.tar.gz
  touch "$registry_dir/app/.complete"
}
# The default port keeps the file names of older copies of this script (so `down` still stops a registry one
# of them started); any other port gets its own folder.
if [ "$REGISTRY_PORT" = 8081 ]; then registry_run=$registry_dir; else registry_run=$registry_dir/port-$REGISTRY_PORT; fi

# postgresql://[user[:password]@]host[:port]/database[?…] → the parts (no percent-decoding: keep passwords plain).
parse_pg_url() {
  local re='^postgres(ql)?://(([^:@/]*)(:([^@/]*))?@)?([^:/?]*)(:([0-9]+))?/([^?]*)'
  [[ $1 =~ $re ]] || die "not a postgresql:// URL: ${1%%@*}@…"
  pg_user=${BASH_REMATCH[3]:-postgres} pg_password=${BASH_REMATCH[5]:-} pg_host=${BASH_REMATCH[6]:-127.0.0.1}
  pg_port=${BASH_REMATCH[8]:-5432} pg_db=${BASH_REMATCH[9]}
}
# The registry's own database, created if missing: REGISTRY_DATABASE_URL, by default DATABASE_URL's server
# and user with the database `deepchain_registry`.
registry_database() {
  parse_pg_url "$DATABASE_URL"
  REGISTRY_DATABASE_URL=${REGISTRY_DATABASE_URL:-postgresql://$pg_user${pg_password:+:$pg_password}@$pg_host:$pg_port/deepchain_registry}
  parse_pg_url "$REGISTRY_DATABASE_URL"
  [[ $pg_db =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "REGISTRY_DATABASE_URL: database name '$pg_db' must be letters, digits and _"
  command -v psql >/dev/null || die "psql not found: the PostgreSQL client is needed to create the registry's database"
  local psql=(env PGPASSWORD="$pg_password" PGCONNECT_TIMEOUT=5 psql -X -q -h "$pg_host" -p "$pg_port" -U "$pg_user" -d postgres -v ON_ERROR_STOP=1 -tA)
  local exists
  exists=$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$pg_db'") ||
    die "Postgres does not answer at $pg_host:$pg_port as $pg_user (the registry stores its schemas there)"
  [ "$exists" = 1 ] && return
  log "creating database $pg_db on $pg_host:$pg_port for the registry"
  # A concurrent `up` may create it first: only a database still missing afterwards is an error.
  "${psql[@]}" -c "CREATE DATABASE \"$pg_db\"" >/dev/null 2>&1 ||
    [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$pg_db'")" = 1 ] || die "could not create database $pg_db"
}
registry_up() {
  if curl -sf "$REGISTRY_URL/subjects" >/dev/null 2>&1; then echo "registry reused"; return; fi
  port_open "$REGISTRY_PORT" && die "port $REGISTRY_PORT is taken by something that is not a schema registry"
  registry_fetch
  registry_database
  mkdir -p "$registry_run"
  log "starting Apicurio Registry $APICURIO_VERSION on 127.0.0.1:$REGISTRY_PORT, schemas in database $pg_db on $pg_host:$pg_port (log: $registry_run/server.log)"
  # SQL storage on Postgres (as docker-compose.yml), tables created on the first start. A small connection
  # pool: Apicurio's default keeps 20 connections open, a fifth of a default Postgres's limit.
  nohup env APICURIO_DATASOURCE_PASSWORD="$pg_password" java -Xms128m -Xmx512m \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
    -Dquarkus.log.level=WARN -Dquarkus.http.access-log.enabled=false \
    -Dapicurio.storage.kind=sql -Dapicurio.storage.sql.kind=postgresql \
    -Dapicurio.datasource.url="jdbc:postgresql://$pg_host:$pg_port/$pg_db" -Dapicurio.datasource.username="$pg_user" \
    -Dapicurio.datasource.jdbc.initial-size=2 -Dapicurio.datasource.jdbc.min-size=2 -Dapicurio.datasource.jdbc.max-size=10 \
    -jar "$(ls "$registry_dir"/app/*-runner.jar)" > "$registry_run/server.log" 2>&1 &
  echo $! > "$registry_run/pid"
  for _ in $(seq 1 $((REGISTRY_START_SECONDS * 2))); do
    if curl -sf "$REGISTRY_URL/subjects" >/dev/null 2>&1; then echo "registry started"; return; fi
    alive "$registry_run/pid" || { tail -20 "$registry_run/server.log" >&2; die "registry exited during start"; }
    sleep 0.5
  done
  tail -20 "$registry_run/server.log" >&2; die "registry did not answer at $REGISTRY_URL within $REGISTRY_START_SECONDS s"
}
registry_down() { stop_pid "$registry_run/pid" registry; }
registry_status() {
  curl -sf "$REGISTRY_URL/subjects" >/dev/null 2>&1 && echo "registry up at $REGISTRY_URL" || echo "registry down"
}

stop_pid() {
  local pidfile=$1 name=$2
  if ! alive "$pidfile"; then rm -f "$pidfile"; log "$name not running (not started by this script)"; return; fi
  local pid; pid=$(cat "$pidfile")
  kill "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; log "$name stopped"; return; }; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true; rm -f "$pidfile"; log "$name killed after 30 s"
}

cmd=${1:-}; what=${2:-all}
if [ "$cmd $what" = "fetch kafka-tools" ]; then kafka_tools_fetch; exit; fi
case "$what" in kafka|registry) parts=("$what");; all) parts=(kafka registry);; *) die "unknown component '$what' (kafka, registry or all)";; esac
case "$cmd" in
  fetch|up|down|status) for p in "${parts[@]}"; do "${p}_$cmd"; done;;
  reset) [ "$what" = kafka ] || die "reset takes 'kafka'"; kafka_reset;;
  *) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2;;
esac
