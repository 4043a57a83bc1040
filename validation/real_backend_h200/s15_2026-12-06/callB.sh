#!/bin/bash
# session 15 call B: call A found a rehearsal at the run's length makes both layers equal but slower. Is that its keys
# left cached in CuPy's pool? A rehearsal longer than the default now frees the pool's unused blocks when it ends; bert-tiny two layers at
# T = 128, rehearsal at 2 tokens against 128, in rounds, under MPS; then the layer split.
export TMPDIR=/dev/shm
W=/tmp/wb; mkdir -p $W
T0=$(date +%s)
el() { echo "[$(( $(date +%s) - T0 )) s] $*" | tee -a $W/steps.txt; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > $W/card.txt 2>&1
el "start $(tail -1 $W/card.txt) $(nproc) cpus"
timeout 130 python3 benchmarks/real_runs.py --gpu --mps --out $W/tiny --case bert-tiny:128:2 --runs 2 --warm-up 1 \
  --budget-s 105 --config '' --config 'rehearse_tokens=128' > $W/tiny.txt 2>&1
el "tiny rc=$?"
python3 validation/real_backend_h200/s15_2026-12-06/layer_split.py $W/tiny > $W/layer_split.txt 2>&1
cd /tmp && tar czf $OUT/wb.tgz wb
echo ====; cat $W/steps.txt; head -11 $W/layer_split.txt; grep -A6 "runs, online" $W/layer_split.txt
