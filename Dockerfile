# Tools to compile the better-sqlite3 addon; node-gyp builds against the headers the node image
# ships instead of downloading them.
FROM node:20-bookworm-slim AS toolchain
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
ENV npm_config_nodedir=/usr/local
WORKDIR /app
# package.json's allowScripts keeps onnxruntime-node (a dev dependency, for tests) from running
# its install script, which would download GPU files.
COPY package.json package-lock.json ./

# Production dependencies only: what the runtime image gets.
FROM toolchain AS deps
RUN npm ci --omit=dev --no-audit --no-fund

# Everything, to compile TypeScript; none of it reaches the runtime image but dist/.
FROM toolchain AS build
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs ./scripts/
COPY src ./src
RUN npm run build && find dist -name '*.map' -delete

# Runtime: compiled JavaScript and production dependencies, as the unprivileged `node`.
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    PORT=3000 \
    HOST=0.0.0.0 \
    DATA_DIR=/data
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "--experimental-wasm-relaxed-simd", "dist/server.js"]
