#!/bin/sh
# The whole test suite: installs what it needs, builds, checks the layer rules, runs every test.
set -eu
cd "$(dirname "$0")/.."
sh scripts/ensure-deps.sh test
node scripts/check-layers.mjs
exec npx vitest run "$@"
