# Sluice on Node 20. The optional librdkafka client is built from source (no prebuilt binary
# needed); a failed build fails the image. `--build-arg WITH_CONFLUENT=0` leaves it out
# (kafkajs only).
FROM node:20-bookworm-slim
ARG WITH_CONFLUENT=1
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      build-essential python3 zlib1g-dev libssl-dev libzstd-dev libcurl4-openssl-dev liblz4-dev libsasl2-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# onnxruntime-node's CUDA download: skipped (package.json allowScripts on npm >= 11, this switch before)
RUN ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
# .dockerignore keeps node_modules, dist, .kafka, .git and out/ out of this copy, so it
# cannot overwrite the npm ci result above
COPY . .
RUN npm run build
RUN if [ "$WITH_CONFLUENT" = "1" ]; then CKJS_LINKING=dynamic npm install --no-save @confluentinc/kafka-javascript@1.10.1; fi
ENTRYPOINT ["node", "dist/bin/sluice.js"]
CMD ["--help"]
