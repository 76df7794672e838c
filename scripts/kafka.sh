#!/usr/bin/env bash
# A real single-node Apache Kafka (KRaft, broker + controller) on loopback, from jars
# fetched from Maven Central — for tests and local runs.
#
#   scripts/kafka.sh fetch                 fetch the pinned broker's jars into .kafka/lib (cached)
#   scripts/kafka.sh start [PORT] [DIR]    format storage and run the broker in the foreground
#                                          (default port 9092, data in .kafka/run-PORT)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
lib="$root/.kafka/lib"

need() { command -v "$1" >/dev/null 2>&1 || { echo "kafka.sh: '$1' is required ($2)" >&2; exit 3; }; }

fetch() {
  if [ -f "$lib/.complete" ]; then return 0; fi
  need java "Java 17 runs the broker: apt-get install openjdk-17-jre-headless"
  need mvn "Maven fetches the broker's jars: apt-get install maven"
  mkdir -p "$lib"
  mvn -q -f "$root/scripts/kafka/pom.xml" dependency:copy-dependencies -DoutputDirectory="$lib" -DincludeScope=runtime >&2
  touch "$lib/.complete"
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
  cat > "$dir/log4j.properties" <<'PROPS'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[kafka %d{HH:mm:ss}] %p %m%n
PROPS
  local jvm=(-Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true "-Dlog4j.configuration=file:${dir}/log4j.properties")
  if [ ! -f "$dir/data/meta.properties" ]; then
    java "${jvm[@]}" -cp "$lib/*" kafka.tools.StorageTool format -t "sluice-test-cluster-01" -c "$dir/server.properties" --ignore-formatted >&2
  fi
  exec java "${jvm[@]}" -cp "$lib/*" kafka.Kafka "$dir/server.properties"
}

case "${1:-}" in
  fetch) fetch ;;
  start) shift; start "$@" ;;
  *) echo "usage: scripts/kafka.sh fetch | start [PORT] [DIR]" >&2; exit 2 ;;
esac
