#!/bin/sh
# The main job: boot the default Debian guest (trixie's riscv64 kernel and an initramfs with
# busybox that typervisor builds) to an interactive root shell on this terminal. The first run
# fetches the Debian packages into ~/.cache/typervisor; Ctrl-A x quits, `poweroff` ends the VM.
# Extra arguments go to `typervisor run`, e.g. `npm run main -- -- uname -a`.
set -eu
cd "$(dirname "$0")/.."
sh scripts/ensure-deps.sh main
exec node bin/typervisor.js run "$@"
