#!/usr/bin/env bash
# A real single-node Apache Kafka (KRaft, broker + controller) on loopback, from jars
# fetched from Maven Central — for tests and local runs.
#
#   scripts/kafka.sh fetch                 fetch the pinned broker's jars into .kafka/lib (cached)
#   scripts/kafka.sh start [PORT] [DIR]    format storage and run the broker in the foreground
#                                          (default port 9092, data in .kafka/run-PORT)
#
# SLUICE_KAFKA picks the broker line: 3 (default: 3.9.1, scripts/kafka/pom.xml) or 4 (the newest
# 4.x, scripts/kafka/pom-4.xml, jars in .kafka/lib-4). The test suites run against both (.ci/run).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
line="${SLUICE_KAFKA:-3}"
case "$line" in
  3) lib="$root/.kafka/lib"; pom="$root/scripts/kafka/pom.xml" ;;
  4) lib="$root/.kafka/lib-4"; pom="$root/scripts/kafka/pom-4.xml" ;;
  *) echo "kafka.sh: SLUICE_KAFKA must be 3 or 4, got '$line'" >&2; exit 2 ;;
esac

need() { command -v "$1" >/dev/null 2>&1 || { echo "kafka.sh: '$1' is required ($2)" >&2; exit 3; }; }

fetch() {
  if [ -f "$lib/.complete" ]; then return 0; fi
  need java "Java 17 runs the broker: apt-get install openjdk-17-jre-headless"
  need mvn "Maven fetches the broker's jars: apt-get install maven"
  mkdir -p "$lib"
  mvn -q -f "$pom" dependency:copy-dependencies -DoutputDirectory="$lib" -DincludeScope=runtime >&2
  touch "$lib/.complete"
}

# the broker logs warnings and errors only, to stderr, one line each; Kafka 3 logs through
# reload4j (log4j 1 syntax), Kafka 4 through log4j2 (its own properties syntax)
write_log4j() {
  if [ "$line" = 4 ]; then
    cat > "$1/log4j2.properties" <<'PROPS'
status = warn
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [kafka %d{HH:mm:ss}] %p %m%n
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = STDERR
PROPS
    log_flag="-Dlog4j2.configurationFile=file:$1/log4j2.properties"
  else
    cat > "$1/log4j.properties" <<'PROPS'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[kafka %d{HH:mm:ss}] %p %m%n
PROPS
    log_flag="-Dlog4j.configuration=file:$1/log4j.properties"
  fi
}

start() {
  local port="${1:-9092}" dir="${2:-$root/.kafka/run-${1:-9092}}"
  local cport=$((port + 1))
  fetch
  mkdir -p "$dir"
  cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${cport}
listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${cport}
advertised.listeners=PLAINTEXT://127.0.0.1:${port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=${dir}/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.flush.interval.messages=9223372036854775807
PROPS
  write_log4j "$dir"
  local jvm=(-Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true "$log_flag")
  if [ ! -f "$dir/data/meta.properties" ]; then
    java "${jvm[@]}" -cp "$lib/*" kafka.tools.StorageTool format -t "sluice-test-cluster-01" -c "$dir/server.properties" --ignore-formatted >&2
  fi
  exec java "${jvm[@]}" -cp "$lib/*" kafka.Kafka "$dir/server.properties"
}

# A broker with a SASL_SSL listener (SCRAM-SHA-256 over TLS) on PORT+2 beside PLAINTEXT on
# PORT, for the security tests: a self-signed certificate for localhost / 127.0.0.1 is made
# in DIR (DIR/ca.pem is what clients trust), and the SCRAM user SLUICE_SCRAM_USER with
# password SLUICE_SCRAM_PASSWORD is created when the storage is formatted.
start_secure() {
  local port="$1" dir="$2"
  local cport=$((port + 1)) sport=$((port + 2))
  : "${SLUICE_SCRAM_USER:?set SLUICE_SCRAM_USER}" "${SLUICE_SCRAM_PASSWORD:?set SLUICE_SCRAM_PASSWORD}"
  fetch
  mkdir -p "$dir"
  local storepass="sluice-test-store"
  if [ ! -f "$dir/broker.p12" ]; then
    keytool -genkeypair -alias broker -keyalg RSA -keysize 2048 -validity 3650 -dname "CN=localhost" \
      -ext "SAN=dns:localhost,ip:127.0.0.1" -keystore "$dir/broker.p12" -storetype PKCS12 -storepass "$storepass" -keypass "$storepass" >&2
    keytool -exportcert -rfc -alias broker -keystore "$dir/broker.p12" -storetype PKCS12 -storepass "$storepass" > "$dir/ca.pem"
  fi
  cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${cport}
listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${cport},SASL_SSL://127.0.0.1:${sport}
advertised.listeners=PLAINTEXT://127.0.0.1:${port},SASL_SSL://127.0.0.1:${sport}
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL
inter.broker.listener.name=PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-256
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PKCS12
ssl.keystore.location=${dir}/broker.p12
ssl.keystore.password=${storepass}
ssl.key.password=${storepass}
log.dirs=${dir}/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
PROPS
  write_log4j "$dir"
  local jvm=(-Xms256m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true "$log_flag")
  if [ ! -f "$dir/data/meta.properties" ]; then
    java "${jvm[@]}" -cp "$lib/*" kafka.tools.StorageTool format -t "sluice-secure-cluster-1" -c "$dir/server.properties" --ignore-formatted \
      --add-scram "SCRAM-SHA-256=[name=${SLUICE_SCRAM_USER},password=${SLUICE_SCRAM_PASSWORD}]" >&2
  fi
  exec java "${jvm[@]}" -cp "$lib/*" kafka.Kafka "$dir/server.properties"
}

case "${1:-}" in
  fetch) fetch ;;
  start) shift; start "$@" ;;
  start-secure) shift; start_secure "$@" ;;
  *) echo "usage: scripts/kafka.sh fetch | start [PORT] [DIR] | start-secure PORT DIR" >&2; exit 2 ;;
esac
