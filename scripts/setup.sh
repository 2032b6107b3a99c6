#!/usr/bin/env bash
# One-time setup on a fresh machine (idempotent): a WebGPU adapter for Node, Chromium for the
# browser and report tests, npm packages, the build.
# On Debian without Mesa >= 24 it installs Mesa's software Vulkan driver (lavapipe) from
# bookworm-backports (needs root or sudo): Debian 12's own Mesa 22.3 is rejected by Dawn. A machine
# with a GPU keeps its vendor's Vulkan driver; Dawn prefers a hardware adapter when there is one.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ -f /etc/debian_version ]; then
  mesa=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || echo 0)
  if ! dpkg --compare-versions "$mesa" ge 24 || ! ldconfig -p | grep -q libvulkan.so.1; then
    as_root bash .ci/install-vulkan.sh
  fi
  # Debian's Chromium (SwiftShader WebGPU) for the browser tests; never a downloaded browser.
  [ -x /usr/bin/chromium ] || { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
elif [ "$(uname -s)" = Linux ] && ! ldconfig -p 2>/dev/null | grep -q libvulkan.so.1; then
  echo "setup: no Vulkan loader (libvulkan.so.1): install your GPU's Vulkan driver or Mesa >= 24 (lavapipe)" >&2
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build --silent
