#!/usr/bin/env bash
# Prepares .dev/ (git-ignored via .git/info/exclude) for running Plateau on a lent GPU machine
# (no Node, no network there): Node and dawn.node compressed, the Vulkan loader and glvnd debs,
# the fixtures, and the run script; then `node esbuild.config.mjs --device` bundles every npm
# package except `webgpu` into dist/device/. Carry ".dev" and "dist/device/<bench>.mjs" (64 MiB
# limit: leave .dev/fixtures out when a run does not need them) and run `bash .dev/run.sh STEP...`.
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.dev/' .git/info/exclude 2>/dev/null || echo '/.dev/' >> .git/info/exclude
mkdir -p .dev/bin .dev/node_modules/webgpu/dist/linux-x64 .dev/fixtures
xz -T2 -6 -c "$(readlink -f "$(command -v node)")" > .dev/bin/node.xz
cp node_modules/webgpu/index.js node_modules/webgpu/package.json .dev/node_modules/webgpu/
xz -T2 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node > .dev/dawn.node.xz
mkdir -p /tmp/amd64/partial
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
apt-get $o update -qq
(cd .dev && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
for f in gpt2-tiny pythia-tiny; do mkdir -p .dev/fixtures/$f && cp ../shared/fixtures/$f/* .dev/fixtures/$f/; done
cp tools/device/run.sh .dev/run.sh
node esbuild.config.mjs --device
du -sh .dev dist/device
