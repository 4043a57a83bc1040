#!/bin/bash
# session 12 call B: 1-word open with the channel's default spin and 1 ms; then the calibration batch (8 cases,
# rounds until the budget) with 1 ms if its 1-word open was over 10 % faster, else the default
export TMPDIR=/dev/shm
W=/tmp/wb; mkdir -p $W
T0=$(date +%s)
el() { echo "[$(( $(date +%s) - T0 )) s] $*" | tee -a $W/steps.txt; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > $W/card.txt 2>&1
el "start $(tail -1 $W/card.txt)"
export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps_pipe CUDA_MPS_LOG_DIRECTORY=/tmp/mps_log; mkdir -p $CUDA_MPS_PIPE_DIRECTORY $CUDA_MPS_LOG_DIRECTORY
nvidia-cuda-mps-control -d
timeout 50 python3 benchmarks/real_backend_bench.py --gpu-open --out $W --label h200-s12-spin-default > $W/open_default.txt 2>&1; el "open default rc=$?"
timeout 50 python3 benchmarks/real_backend_bench.py --gpu-open --out $W --label h200-s12-spin1000 --spin-us 1000 > $W/open_spin1000.txt 2>&1; el "open spin1000 rc=$?"
echo quit | nvidia-cuda-mps-control; sleep 1
PICK=$(python3 - <<'PY'
import json
rows = {r["label"]: r for r in map(json.loads, open("/tmp/wb/gpu_open.jsonl"))}
a, b = rows.get("h200-s12-spin-default"), rows.get("h200-s12-spin1000")
print("spin_us=1000" if a and b and b["small_open_s"] < 0.9 * a["small_open_s"] else "")
PY
)
el "calibration config: '${PICK}'"
LEFT=$(( 400 - ($(date +%s) - T0) ))
timeout $((LEFT + 40)) python3 benchmarks/real_runs.py --out $W/cal --gpu --mps --runs 3 --budget-s $LEFT --config "$PICK" \
  --case bert-tiny:128:2 --case bert-base:128:1 --case gpt2:128:1 --case bert-large:128:1 \
  --case bert-tiny:64:2 --case bert-base:64:1 --case gpt2:64:1 --case bert-large:64:1 > $W/cal.txt 2>&1; el "cal rc=$?"
cd /tmp && tar czf $OUT/wb.tgz wb
echo ====; cat $W/steps.txt; grep -i "small_open\|open_s " $W/open_default.txt $W/open_spin1000.txt; tail -28 $W/cal.txt
