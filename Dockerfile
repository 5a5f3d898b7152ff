# Tools to compile the better-sqlite3 and native/openblas addons; node-gyp builds against the
# headers the node image ships instead of downloading them. OpenBLAS itself is only opened at
# run time, so the build needs neither its headers nor its library.
FROM node:20-bookworm-slim AS toolchain
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
ENV npm_config_nodedir=/usr/local
WORKDIR /app
# package.json's allowScripts keeps onnxruntime-node (a dev dependency, for tests) from running
# its install script, which would download GPU files.
COPY package.json package-lock.json ./
COPY native/openblas/package.json native/openblas/binding.gyp native/openblas/*.c native/openblas/*.h ./native/openblas/

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

# Runtime: compiled JavaScript and production dependencies, as the unprivileged `node`, and the
# OpenBLAS the openblas kernel path opens.
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenblas0-pthread \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    PORT=3000 \
    HOST=0.0.0.0 \
    DATA_DIR=/data
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
# node_modules/backprop-openblas links here: the package and its built addon, no build files.
COPY --from=deps /app/native/openblas/package.json ./native/openblas/
COPY --from=deps /app/native/openblas/build/Release/openblas.node ./native/openblas/build/Release/
COPY --from=build /app/dist ./dist
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "--experimental-wasm-relaxed-simd", "--single-threaded-gc", "--initial-old-space-size=128", "dist/server.js"]
