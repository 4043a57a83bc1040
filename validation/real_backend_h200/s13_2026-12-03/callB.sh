#!/bin/bash
# session 13 call B: is call A's run-to-run spread of bert-tiny one party's host being slower throughout a run (its
# gaps 1.5x the other's)? The same runs with each party pinned to its own physical cores (--pin-cores); then the
# first pinned round of the calibration set (8 cases, one run each) as far as the budget goes.
export TMPDIR=/dev/shm
W=/tmp/wb; mkdir -p $W
T0=$(date +%s)
el() { echo "[$(( $(date +%s) - T0 )) s] $*" | tee -a $W/steps.txt; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > $W/card.txt 2>&1
lscpu > $W/lscpu.txt 2>&1
el "start $(tail -1 $W/card.txt) $(nproc) cpus"
timeout 200 python3 benchmarks/real_runs.py --out $W/runs --gpu --mps --pin-cores --warm-up 1 --runs 3 --budget-s 180 \
  --case bert-tiny:128:2 --config '' --config spin_us=2000 > $W/runs.txt 2>&1; el "pinned tiny rc=$?"
LEFT=$(( 500 - ($(date +%s) - T0) ))
timeout $((LEFT + 45)) python3 benchmarks/real_runs.py --out $W/cal --gpu --mps --pin-cores --runs 1 --budget-s $LEFT \
  --case bert-base:128:1 --case gpt2:128:1 --case bert-large:128:1 --case bert-tiny:64:2 --case bert-base:64:1 \
  --case gpt2:64:1 --case bert-large:64:1 --case bert-tiny:128:2 > $W/cal.txt 2>&1; el "cal rc=$?"
python3 validation/real_backend_h200/s13_2026-12-03/open_split.py $W/runs $W/cal > $W/open_split.txt 2>&1
cd /tmp && tar czf $OUT/wb.tgz wb
echo ====; cat $W/steps.txt; grep -i "thread\|core\|socket\|model name" $W/lscpu.txt | head -5; tail -8 $W/runs.txt; tail -10 $W/cal.txt; cat $W/open_split.txt
