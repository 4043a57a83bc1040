#!/bin/bash
# session 13 call C: rounds 2 and 3 of the 2026-12-03 calibration set's eight configurations (unpinned, as rounds 0
# and 1 in calibration_2026-12-03/), held out from the fit on rounds 0 and 1.
export TMPDIR=/dev/shm
W=/tmp/wc; mkdir -p $W
T0=$(date +%s)
el() { echo "[$(( $(date +%s) - T0 )) s] $*" | tee -a $W/steps.txt; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > $W/card.txt 2>&1
el "start $(tail -1 $W/card.txt) $(nproc) cpus"
timeout 520 python3 benchmarks/real_runs.py --out $W/cal --gpu --mps --runs 2 --first-round 2 --budget-s 480 \
  --case bert-tiny:128:2 --case bert-base:128:1 --case gpt2:128:1 --case bert-large:128:1 \
  --case bert-tiny:64:2 --case bert-base:64:1 --case gpt2:64:1 --case bert-large:64:1 > $W/cal.txt 2>&1; el "cal rc=$?"
python3 validation/real_backend_h200/s13_2026-12-03/open_split.py $W/cal > $W/open_split.txt 2>&1
cd /tmp && tar czf $OUT/wc.tgz wc
echo ====; cat $W/steps.txt; tail -18 $W/cal.txt
