#!/usr/bin/env bash
# Runs on the device machine from .dev/ (see tools/device/prepare.sh): unpacks Node and dawn.node,
# installs the Vulkan loader, points it at the NVIDIA ICD, and runs the named steps.
# Device run: Node + Dawn (Vulkan) on the NVIDIA GPU, Plateau's bundles from dist/device.
set -u
cd "$(dirname "$0")"
if [ "${PLATEAU_DEVICE_READY:-}" != 1 ]; then
mkdir -p /tmp/pn && xz -dc bin/node.xz > /tmp/pn/node && chmod +x /tmp/pn/node
xz -dc dawn.node.xz > node_modules/webgpu/dist/linux-x64/dawn.node
for f in *.deb; do dpkg -x $f /; done; ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json XDG_RUNTIME_DIR=/tmp
ls /usr/local/nvidia/share/vulkan/icd.d/ 2>&1 | head -3
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
cp ../dist/device/*.mjs . 2>/dev/null
/tmp/pn/node --version
fi
export PLATEAU_DEVICE_READY=1
# FP32 peak of the lent GPU in TFLOP/s (WebGPU cannot tell): H100 SXM / H200 66.9, H100 PCIe 51.2.
case "$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null)" in
  *H100*PCIe*) PEAK=51.2 ;;
  *H100*|*H200*) PEAK=66.9 ;;
  *) PEAK= ;;
esac
for step in "$@"; do
  echo "=== $step"
  case "$step" in
    verify) cat /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; timeout 120 /tmp/pn/node verify-fixtures.mjs fixtures/gpt2-tiny fixtures/pythia-tiny 2>&1 | grep -v '^Warning' | tee -a $OUT/verify.jsonl | cut -c1-600 ;;
    sweeps) timeout 300 /tmp/pn/node sweeps.mjs --batch 4 --seq 256 --naive-neurons 2 --naive-heads 1 2>&1 | grep -v '^Warning' | tee -a $OUT/sweeps.jsonl ;;
    sweeps-xl) timeout 420 /tmp/pn/node --max-old-space-size=16000 sweeps.mjs --shape gpt2-xl --dtype F16 --batch 4 --seq 128 --naive-neurons 2 --naive-heads 1 2>&1 | grep -v '^Warning' | tee -a $OUT/sweeps-xl.jsonl ;;
    matmul) for m in 4096 1024; do timeout 300 /tmp/pn/node matmul.mjs --m $m --repeats 10 --variants shared,vec4-8x8,vec4-128,vec4-128x64,vec4-128-sk,vec4-128x64-sk ${PEAK:+--peak-tflops $PEAK} 2>&1 | grep -v '^Warning' | tee -a $OUT/matmul.jsonl | cut -c1-3000; done ;;
    forward) timeout 200 /tmp/pn/node forward.mjs --models gpt2,pythia --attention tiled,simple 2>&1 | grep -v '^Warning' | tee -a $OUT/forward.jsonl | cut -c1-3000 ;;
    sweeps-bounds) timeout 300 /tmp/pn/node sweeps.mjs --batch 4 --seq 256 --naive-neurons 2 --naive-heads 1 --compare-bounds --profile --pair-variants tiled,tiled:mixed,tiled:factor,tiled:mixed:factor,tiled:no-exp,direct 2>&1 | grep -v '^Warning' | tee -a $OUT/sweeps.jsonl ;;
    sweeps-pythia) timeout 240 /tmp/pn/node sweeps.mjs --shape pythia-160m --batch 4 --seq 256 --naive-neurons 2 --naive-heads 1 2>&1 | grep -v '^Warning' | tee -a $OUT/sweeps-pythia.jsonl ;;
    patch) timeout 120 /tmp/pn/node patch.mjs --seq 128 --naive-patches 4 2>&1 | grep -v '^Warning' | tee -a $OUT/patch.jsonl ;;
    # Everything the open GPU targets need, in one call of under 10 minutes (issues 3 and 6); the
    # Pythia-shaped sweep (final-layer head closed form vs batched) and patching last, as they are optional.
    gpu-check) bash "$0" verify sweeps-bounds forward matmul sweeps-pythia patch ;;
    sweeps-small) timeout 200 /tmp/pn/node sweeps.mjs --batch 1 --seq 128 --naive-neurons 2 --naive-heads 1 2>&1 | grep -v '^Warning' | tee -a $OUT/sweeps.jsonl ;;
    *) timeout 300 /tmp/pn/node $step 2>&1 | grep -v '^Warning' | tee -a $OUT/other.jsonl ;;
  esac
done
