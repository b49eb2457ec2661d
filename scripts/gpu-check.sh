#!/usr/bin/env bash
# Real-GPU check: read this machine's GPUs with nvidia-smi, publish them with `gpuplane inventory
# nvidia-smi`, and allocate one whole-GPU claim and one MIG claim against what was published.
#
# It only reads: nvidia-smi query commands, no setting of the GPU changes (MIG mode included). The
# MIG claim is allocated against the mig-dynamic publication of the GPU, which is a computation of
# what could be created, so it works with MIG mode off too.
#
# Node.js: uses `node` from PATH, else $GPUPLANE_NODE, else the binary of the npm package `node`
# if it was installed beside the project (npm install --no-save node@20) and carried along.
set -euo pipefail
cd "$(dirname "$0")/.."

NODE="$(command -v node || true)"
[ -n "$NODE" ] || NODE="${GPUPLANE_NODE:-}"
[ -n "$NODE" ] || { [ -x node_modules/node/bin/node ] && NODE="$PWD/node_modules/node/bin/node"; }
[ -n "$NODE" ] || { echo "gpu-check: no Node.js found; set GPUPLANE_NODE or install the npm package node beside the project" >&2; exit 2; }
command -v nvidia-smi >/dev/null || { echo "gpu-check: nvidia-smi not found; this check needs an NVIDIA GPU and driver" >&2; exit 2; }

OUT="${1:-$(mktemp -d)}"
mkdir -p "$OUT"
echo "== capturing nvidia-smi outputs into $OUT"
nvidia-smi -q -x > "$OUT/nvidia-smi-q.xml"
nvidia-smi mig -lgip > "$OUT/mig-lgip.txt" 2>&1 || echo "(mig -lgip not available: $(head -c 200 "$OUT/mig-lgip.txt"))"
nvidia-smi mig -lgipp > "$OUT/mig-lgipp.txt" 2>&1 || echo "(mig -lgipp not available)"
nvidia-smi topo -m > "$OUT/topo-m.txt" 2>&1 || echo "(topo -m not available)"
nvidia-smi --query-gpu=index,name,uuid,memory.total,mig.mode.current --format=csv | tee "$OUT/query-gpu.csv"

gp() { "$NODE" bin/gpuplane.js "$@"; }
MIG_ARGS=()
grep -q "Profile ID" "$OUT/mig-lgip.txt" 2>/dev/null && MIG_ARGS+=(--mig-profiles "$OUT/mig-lgip.txt")
grep -q "Placement" "$OUT/mig-lgipp.txt" 2>/dev/null && MIG_ARGS+=(--mig-placements "$OUT/mig-lgipp.txt")

echo "== gpuplane inventory nvidia-smi (whole)"
gp inventory nvidia-smi --xml "$OUT/nvidia-smi-q.xml" --topo "$OUT/topo-m.txt" "${MIG_ARGS[@]}" --mode whole > "$OUT/slices-whole.yaml"
grep -E "^\s+(name: gpu-|productName|uuid)" -A1 "$OUT/slices-whole.yaml" | grep -vE "^--$" | head -40
gp inventory classes > "$OUT/classes.yaml"

cat > "$OUT/claims.yaml" <<'CLAIMS'
apiVersion: resource.k8s.io/v1
kind: ResourceClaim
metadata: {name: one-whole-gpu, namespace: gpu-check}
spec:
  devices:
    requests:
    - {name: gpu, exactly: {deviceClassName: gpu.nvidia.com}}
---
apiVersion: resource.k8s.io/v1
kind: ResourceClaim
metadata: {name: one-mig-1g, namespace: gpu-check}
spec:
  devices:
    requests:
    - name: mig
      exactly:
        deviceClassName: mig.nvidia.com
        selectors:
        - cel: {expression: "device.attributes['gpu.nvidia.com'].profile.startsWith('1g.')"}
CLAIMS

echo "== allocate one whole GPU"
gp allocate -f "$OUT/classes.yaml" -f "$OUT/slices-whole.yaml" -f <(sed -n '1,/^---$/p' "$OUT/claims.yaml" | sed '$d') -o json | tee "$OUT/allocate-whole.json"

if [ ${#MIG_ARGS[@]} -gt 0 ]; then
  echo "== gpuplane inventory nvidia-smi (mig-dynamic) and allocate one 1g MIG device"
  gp inventory nvidia-smi --xml "$OUT/nvidia-smi-q.xml" --topo "$OUT/topo-m.txt" "${MIG_ARGS[@]}" --mode mig-dynamic > "$OUT/slices-mig.yaml"
  grep -c "name: gpu-0-mig-" "$OUT/slices-mig.yaml" | sed 's/^/MIG placements published for GPU 0: /'
  gp allocate -f "$OUT/classes.yaml" -f "$OUT/slices-mig.yaml" -f <(sed -n '/^---$/,$p' "$OUT/claims.yaml" | sed '1d') -o json | tee "$OUT/allocate-mig.json"
else
  echo "== this GPU reports no MIG profiles; MIG claim skipped"
fi
echo "== outputs kept in $OUT"
