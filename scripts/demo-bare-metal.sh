#!/bin/sh
# A bare-metal program on typervisor: builds examples/mandelbrot.c with Debian's cross compiler
# and runs it in M-mode with no firmware (`--bios none`), as `qemu-system-riscv64 -bios none` would.
set -eu
cd "$(dirname "$0")/.."
sh scripts/ensure-deps.sh main
node --input-type=module -e "
  const { buildSource } = await import('./tests/programs/build.mjs');
  await buildSource('examples/mandelbrot.c', 'examples/build/mandelbrot.elf');
"
exec node bin/typervisor.js run --bios none --kernel examples/build/mandelbrot.elf "$@"
