#!/usr/bin/env bash
# extract --to safetensors on a 1 GiB torch checkpoint, side by side with `cp` of the same
# file and with torch.load + safetensors.torch.save_file; time, peak heap and peak RSS
# (scripts/peak_memory.py). Each output is checked and removed before the next run (disk).
#
#   scripts/bench_safetensors.sh [CHECKPOINT] [PYTHON_WITH_TORCH_AND_SAFETENSORS]
#
# CHECKPOINT defaults to /work/bench-big/torch1g.pt (torch.save of a 16-tensor float32
# state_dict, 1 GiB); it is made with the given Python when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ckpt=${1:-/work/bench-big/torch1g.pt}
py=${2:-/work/venvs/i17a/bin/python}
work=$(mktemp -d "$(dirname "$ckpt")/bench-st.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [ ! -f "$ckpt" ]; then
  "$py" -c "import torch, sys; torch.save({f'layer{i}.weight': torch.randn(4096, 4096) for i in range(16)}, sys.argv[1])" "$ckpt"
fi
cargo build --release --quiet
bin=target/release/pklinspect
size=$(stat -c %s "$ckpt")
echo "input: $ckpt ($size bytes)"

run() {  # label, command...
  local label=$1; shift
  sync
  printf '%-44s ' "$label"
  python3 scripts/peak_memory.py "$@"
}

cat "$ckpt" > /dev/null  # the same warm page cache for every run
for round in 1 2; do
  echo "== round $round"
  run "cp" cp "$ckpt" "$work/copy.pt"
  rm -f "$work/copy.pt"
  run "pklinspect extract --to safetensors" "$bin" extract "$ckpt" --to safetensors -q -o "$work/pkl.safetensors"
  if [ "$round" = 2 ]; then
    "$py" - "$work/pkl.safetensors" "$ckpt" <<'EOF'
import sys, torch
from safetensors.torch import load_file
ours = load_file(sys.argv[1])
theirs = torch.load(sys.argv[2], mmap=True, weights_only=True)
assert list(sorted(ours)) == list(sorted(theirs)), "keys differ"
assert all(torch.equal(ours[k], theirs[k].contiguous()) for k in ours), "values differ"
print("  output checked: same keys and tensors as torch.load")
EOF
  fi
  rm -f "$work/pkl.safetensors"
  run "torch.load + safetensors.torch.save_file" "$py" -c "import sys, torch; from safetensors.torch import save_file; save_file({k: v.contiguous() for k, v in torch.load(sys.argv[1], weights_only=True).items()}, sys.argv[2])" "$ckpt" "$work/torch.safetensors"
  rm -f "$work/torch.safetensors"
done
