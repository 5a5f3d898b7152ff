#!/usr/bin/env bash
# `npm audit --omit=dev --audit-level=high`, failing on findings. Where the registry offers no
# audit endpoint (as on machines that reach only a registry mirror), it says so and does not fail:
# there is nothing to audit against, which is not the same as a clean audit.
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(npm audit --omit=dev --audit-level=high 2>&1)
code=$?
echo "$out"
if [ $code -ne 0 ] && grep -q "audit endpoint returned an error" <<<"$out"; then
  echo "npm audit: the registry has no audit endpoint here; audit NOT performed" >&2
  exit 0
fi
exit $code
