#!/bin/sh
# Installs what typervisor's commands need on a fresh Debian machine, then builds it.
#   scripts/ensure-deps.sh main   - what `npm run main` needs: apt/dpkg-deb, xz and Debian's
#                                   archive keyring to fetch the default guest; the cross
#                                   compiler for bare-metal programs (`npm run demo`)
#   scripts/ensure-deps.sh test   - what the test suite needs (also QEMU and OpenSBI as the
#                                   references, qemu-utils (qemu-img, qemu-io) for the disk image
#                                   interop tests, python3-libvhdi as the reference reader of
#                                   differencing VHDs, socat for the TAP-device test, Chromium for
#                                   the browser-worker test, dtc, cpio and tmux for the guest and
#                                   console tests, passt for --net user)
# Debian packages are installed with apt-get only when missing; npm packages with `npm install`
# when node_modules is missing or older than package-lock.json.
set -eu
cd "$(dirname "$0")/.."
want=${1:-test}

packages="gcc-riscv64-linux-gnu xz-utils debian-archive-keyring"
[ "$want" = test ] && packages="$packages qemu-system-misc qemu-user qemu-utils python3-libvhdi socat chromium device-tree-compiler opensbi tmux cpio passt"

missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "typervisor: installing Debian packages:$missing" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086
  $sudo apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1 || {
    $sudo apt-get update -q >/dev/null
    $sudo apt-get install -y -q --no-install-recommends $missing >/dev/null
  }
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  echo "typervisor: installing npm packages" >&2
  # `npm install`, not `npm ci`: npm 11's ci rejects this lockfile for missing optional
  # platform packages of rollup (a vitest dependency) that install resolves without trouble.
  npm install --no-audit --no-fund --loglevel=error
  touch node_modules
fi

npm run --silent build >/dev/null
