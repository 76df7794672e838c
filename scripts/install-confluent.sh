#!/usr/bin/env bash
# Installs the optional @confluentinc/kafka-javascript client (librdkafka), built from
# source against the system's libraries — no prebuilt binary is needed. Without it,
# Sluice runs on kafkajs.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=1.10.1
if node -e "require('@confluentinc/kafka-javascript')" 2>/dev/null; then echo "confluent client already installed"; exit 0; fi
pkgs=(zlib1g-dev libssl-dev libzstd-dev libcurl4-openssl-dev liblz4-dev libsasl2-dev build-essential python3)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq "${missing[@]}"
  else echo "install first: sudo apt-get install ${missing[*]}" >&2; exit 3; fi
fi
CKJS_LINKING=dynamic npm install --no-save --no-audit --no-fund "@confluentinc/kafka-javascript@${VERSION}"
node -e "require('@confluentinc/kafka-javascript'); console.log('confluent client installed')"
