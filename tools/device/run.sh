#!/usr/bin/env bash
# Runs on the device machine from .dev/ (see tools/device/prepare.sh): unpacks Node and dawn.node,
# installs the Vulkan loader, points it at the NVIDIA ICD, and runs the named steps.
# Device run: Node + Dawn (Vulkan) on the NVIDIA GPU, Plateau's bundles from dist/device.
set -u
cd "$(dirname "$0")"
mkdir -p /tmp/pn && xz -dc bin/node.xz > /tmp/pn/node && chmod +x /tmp/pn/node
xz -dc dawn.node.xz > node_modules/webgpu/dist/linux-x64/dawn.node
for f in *.deb; do dpkg -x $f /; done; ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json XDG_RUNTIME_DIR=/tmp
ls /usr/local/nvidia/share/vulkan/icd.d/ 2>&1 | head -3
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
cp ../dist/device/*.mjs . 2>/dev/null
/tmp/pn/node --version
for step in "$@"; do
  echo "=== $step"
  case "$step" in
    verify) cat /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; timeout 120 /tmp/pn/node verify-fixtures.mjs fixtures/gpt2-tiny fixtures/pythia-tiny 2>&1 | grep -v '^Warning' | tee -a $OUT/verify.jsonl | cut -c1-600 ;;
    sweeps) timeout 300 /tmp/pn/node sweeps.mjs --batch 4 --seq 256 --naive-neurons 2 --naive-heads 1 2>&1 | grep -v '^Warning' | tee -a $OUT/sweeps.jsonl ;;
    sweeps-xl) timeout 420 /tmp/pn/node --max-old-space-size=16000 sweeps.mjs --shape gpt2-xl --dtype F16 --batch 4 --seq 128 --naive-neurons 2 --naive-heads 1 2>&1 | grep -v '^Warning' | tee -a $OUT/sweeps-xl.jsonl ;;
    matmul) timeout 300 /tmp/pn/node matmul.mjs --m 1024 --repeats 10 --variants shared,shared-128,vec4-8x8 2>&1 | grep -v '^Warning' | tee -a $OUT/matmul.jsonl | cut -c1-3000 ;;
    sweeps-small) timeout 200 /tmp/pn/node sweeps.mjs --batch 1 --seq 128 --naive-neurons 2 --naive-heads 1 2>&1 | grep -v '^Warning' | tee -a $OUT/sweeps.jsonl ;;
    *) timeout 300 /tmp/pn/node $step 2>&1 | grep -v '^Warning' | tee -a $OUT/other.jsonl ;;
  esac
done
