#!/bin/sh
# The main job until the Linux board lands: build the bare-metal demo and boot it on typervisor.
set -eu
cd "$(dirname "$0")/.."
sh scripts/ensure-deps.sh main
node --input-type=module -e "
  const { buildSource } = await import('./tests/programs/build.mjs');
  await buildSource('examples/mandelbrot.c', 'examples/build/mandelbrot.elf');
"
exec node bin/typervisor.js run --bios none --kernel examples/build/mandelbrot.elf "$@"
