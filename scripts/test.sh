#!/bin/sh
# The whole test suite: installs what it needs, builds, checks the layer rules, type-checks the
# tests too (the build's tsconfig covers src/ only; vitest strips types without checking them),
# runs every test.
set -eu
cd "$(dirname "$0")/.."
sh scripts/ensure-deps.sh test
node scripts/check-layers.mjs
npx tsc -p tsconfig.tests.json
exec npx vitest run "$@"
