#!/usr/bin/env bash
# Installs a software Vulkan driver (Mesa lavapipe) that Dawn accepts, on Debian 12.
# Debian 12's own Mesa 22.3 is rejected by Dawn (missing shaderUniform*ArrayDynamicIndexing);
# Mesa 25 from bookworm-backports works. Idempotent; needs root.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then echo "install-vulkan: run as root (apt-get)"; exit 1; fi
if ! grep -q bookworm-backports /etc/apt/sources.list.d/*.sources 2>/dev/null; then
  cat > /etc/apt/sources.list.d/backports.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
echo "install-vulkan: $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers) installed"
