# Sluice on Node 20. The optional librdkafka client is built from source (no prebuilt binary needed).
FROM node:20-bookworm-slim
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      build-essential python3 zlib1g-dev libssl-dev libzstd-dev libcurl4-openssl-dev liblz4-dev libsasl2-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && CKJS_LINKING=dynamic npm install --no-save @confluentinc/kafka-javascript@1.10.1 || echo "confluent client not built: kafkajs only"
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["--help"]
