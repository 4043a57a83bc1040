#!/bin/bash
# session 15 call A: does a rehearsal at the run's own length (run --rehearse-tokens 128) take away the first layer's
# extra time? bert-tiny two layers and bert-base one layer at T = 128, rehearsal at 2 tokens (the default) against 128,
# in rounds, under MPS; then the layer split of every run.
export TMPDIR=/dev/shm
W=/tmp/wa; mkdir -p $W
T0=$(date +%s)
el() { echo "[$(( $(date +%s) - T0 )) s] $*" | tee -a $W/steps.txt; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > $W/card.txt 2>&1
el "start $(tail -1 $W/card.txt) $(nproc) cpus"
timeout 230 python3 benchmarks/real_runs.py --gpu --mps --out $W/tiny --case bert-tiny:128:2 --runs 4 --warm-up 1 \
  --budget-s 190 --config '' --config 'rehearse_tokens=128' > $W/tiny.txt 2>&1
el "tiny rc=$?"
timeout 150 python3 benchmarks/real_runs.py --gpu --mps --out $W/base --case bert-base:128:1 --runs 1 \
  --budget-s 110 --config '' --config 'rehearse_tokens=128' > $W/base.txt 2>&1
el "base rc=$?"
S=validation/real_backend_h200/s15_2026-12-06/layer_split.py
python3 $S $W/tiny $W/base > $W/layer_split.txt 2>&1
cd /tmp && tar czf $OUT/wa.tgz wa
echo ====; cat $W/steps.txt; tail -8 $W/tiny.txt; tail -6 $W/base.txt; grep -A3 "runs, online" $W/layer_split.txt
