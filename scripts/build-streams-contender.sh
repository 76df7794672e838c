#!/usr/bin/env bash
# Builds the Kafka Streams load-test contender (issue #20; loadtest/streams/): Kafka Streams 4.4,
# ONNX Runtime for Java 1.20 and Jackson from Maven Central, compiled for Java 17. Prints the
# classpath file's path; loadtest/run.ts runs it when asked for the streams contender.
#   bash scripts/build-streams-contender.sh          (about a minute the first time: downloads)
set -euo pipefail
cd "$(dirname "$0")/../loadtest/streams"
command -v mvn >/dev/null || { echo "build-streams-contender: needs Maven (apt-get install maven) and a JDK 17" >&2; exit 1; }
rm -f target/lib/*.jar
# Maven 3.8 prints colour resets even in batch mode: stripped, and all of it to stderr (stdout is the path)
mvn -q -B -Dstyle.color=never -DskipTests package 2>&1 | sed 's/\x1b\[[0-9;]*m//g' | grep -v '^$' >&2 || [ "${PIPESTATUS[0]}" = 0 ]
ls "$(pwd)"/target/streams-contender-1.0.jar "$(pwd)"/target/lib/*.jar | paste -sd: > target/classpath
echo "$(pwd)/target/classpath"
