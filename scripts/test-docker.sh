#!/usr/bin/env bash
# Builds the image and checks it from outside the container, run hardened (read-only root, a
# volume for DATA_DIR, tmpfs /tmp, no capabilities, no-new-privileges, memory and pids limits):
# /healthz, one forward request, a model that survives a restart, a non-root user, an image without
# dev dependencies, npm cache or source maps of our own, and a graceful stop on SIGTERM. Where Docker Hub is
# unreachable the base image comes from ../shared/tools/node-base-image.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
image=backprop-service:test-$$
name=backprop-test-$$
volume=backprop-test-data-$$
base=node:20-bookworm-slim

fail() { echo "test:docker FAILED: $*" >&2; docker logs "$name" 2>&1 | tail -20 >&2 || true; exit 1; }

if ! docker info >/dev/null 2>&1 || ! docker image inspect "$base" >/dev/null 2>&1; then
  if ! docker pull "$base" >/dev/null 2>&1; then
    # The workplace's tool sits beside the checkout (../shared); a clone elsewhere finds it at /work.
    tool=../shared/tools/node-base-image.sh
    [ -f "$tool" ] || tool=/work/shared/tools/node-base-image.sh
    bash "$tool" >/dev/null
  fi
fi
# The official image ships Node's C headers (node-gyp builds better-sqlite3 against them); the
# stand-in may not, so give it this machine's own, which match its node binary.
if ! docker run --rm "$base" test -f /usr/local/include/node/node.h; then
  headers=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")/include/node
  [ -f "$headers/node.h" ] || headers=/usr/include/node
  ctx=$(mktemp -d)
  cp -r "$headers" "$ctx/node"
  printf 'FROM %s\nCOPY node /usr/local/include/node\n' "$base" >"$ctx/Dockerfile"
  docker build -q -t "$base" "$ctx" >/dev/null
  rm -rf "$ctx"
fi

docker build -t "$image" . >/tmp/backprop-docker-build.log 2>&1 || { tail -30 /tmp/backprop-docker-build.log; fail "docker build"; }
leftovers=$(docker run --rm --entrypoint sh "$image" -c \
  'ls -d node_modules/vitest node_modules/typescript node_modules/@biomejs /root/.npm /home/node/.npm 2>/dev/null; find /app/dist -name "*.map" | head -3')
[ -z "$leftovers" ] || fail "the image holds dev dependencies, an npm cache or source maps: $leftovers"
echo "ok: no dev dependencies, npm cache or source maps in the image"

trap 'docker rm -f "$name" >/dev/null 2>&1; docker volume rm -f "$volume" >/dev/null 2>&1 || true' EXIT
start() {
  docker run -d --name "$name" -p 127.0.0.1::3000 \
    --read-only --tmpfs /tmp:rw,size=64m --volume "$volume:/data" \
    --cap-drop ALL --security-opt no-new-privileges \
    --memory 1g --pids-limit 200 "$image" >/dev/null
  port=$(docker port "$name" 3000/tcp | head -1 | sed 's/.*://')
  url=http://127.0.0.1:$port
  for _ in $(seq 1 50); do curl -fsS "$url/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
  curl -fsS "$url/healthz" | grep -q '"ok"' || fail "/healthz"
}
start
[ "$(docker inspect -f '{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} {{.HostConfig.SecurityOpt}}' "$name")" = \
  "true [ALL] [no-new-privileges]" ] || fail "hardening flags not in effect"
echo "ok: /healthz answers from outside a read-only, capability-free container"

body='{"layers":[{"type":"affine","W":[[1,0],[0,1]],"b":[0.5,-0.5]},{"type":"relu"}],"x":[[1,2]]}'
answer=$(curl -fsS -H 'content-type: application/json' -d "$body" "$url/v1/networks/forward")
[ "$answer" = '{"out":[[1.5,1.5]]}' ] || fail "forward answered $answer"
echo "ok: forward request answered $answer"
metrics=$(curl -fsS "$url/metrics")
# grep -q stops reading at its match: fed by a pipe, curl would then fail writing (exit 23)
grep -qx 'backprop_kernel_path_info{path="openblas"} 1' <<<"$metrics" ||
  fail "the image does not run the openblas kernels"
start_line=$(docker logs "$name" 2>&1 | grep -o '"msg":"numeric kernels: [^"]*"' | head -1)
grep -q 'numeric kernels: openblas (OpenBLAS ' <<<"$start_line" || fail "start line: $start_line"
echo "ok: the image runs the openblas kernels as user node ($start_line)"

model=$(curl -fsS -H 'content-type: application/json' -d '{"name":"kept","layers":[{"type":"affine","W":[[1,0],[0,1]],"b":[0,0]},{"type":"softmaxWithLoss"}]}' "$url/v1/models")
id=$(sed 's/.*"id":"\([^"]*\)".*/\1/' <<<"$model")
docker restart -t 10 "$name" >/dev/null
port=$(docker port "$name" 3000/tcp | head -1 | sed 's/.*://')
url=http://127.0.0.1:$port
for _ in $(seq 1 50); do curl -fsS "$url/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS "$url/v1/models/$id" | grep -q '"name":"kept"' || fail "model $id lost across a restart"
echo "ok: a model written to the /data volume survives a restart"

uid=$(docker exec "$name" id -u)
[ "$uid" != 0 ] || fail "the container runs as root"
[ "$(docker inspect -f '{{.Config.User}}' "$image")" = node ] || fail "image user is not node"
echo "ok: runs as uid $uid (node)"

for _ in $(seq 1 40); do
  [ "$(docker inspect -f '{{.State.Health.Status}}' "$name")" = healthy ] && break; sleep 0.5
done
[ "$(docker inspect -f '{{.State.Health.Status}}' "$name")" = healthy ] || fail "HEALTHCHECK never healthy"
echo "ok: HEALTHCHECK reports healthy"

start=$(date +%s)
docker stop -t 10 "$name" >/dev/null
took=$(($(date +%s) - start))
code=$(docker inspect -f '{{.State.ExitCode}}' "$name")
[ "$code" = 0 ] || fail "exit code $code after SIGTERM"
[ "$took" -lt 10 ] || fail "took ${took}s to stop"
echo "ok: SIGTERM stops it cleanly in ${took}s (exit 0)"
echo "test:docker passed"
