#!/bin/bash
# session 14 call E: round 5's remaining loopback what-ifs (rsqrt_iters 2, nexp_final_trunc=0, SIGMA inverse,
# SIGMA rowmax) against the defaults measured in the same call, from predictions5_bert-base_T128_L1.json (committed
# in session 13, before these runs); configurations in rounds, as far as the budget goes.
export TMPDIR=/dev/shm
W=/tmp/wd; mkdir -p $W
T0=$(date +%s)
el() { echo "[$(( $(date +%s) - T0 )) s] $*" | tee -a $W/steps.txt; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > $W/card.txt 2>&1
el "start $(tail -1 $W/card.txt) $(nproc) cpus"
timeout 440 python3 benchmarks/real_runs.py --gpu --mps --out $W/whatifs5b --case bert-base:128:1 --runs 3 --budget-s 380 \
  --config '' --config 'rsqrt_iters=2' --config 'nexp_final_trunc=0' \
  --config 'SUF_INV_MODE=sigma_gpu,inv_sigma_muls=0' --config 'SUF_ROWMAX_MODE=sigma_gpu' > $W/whatifs5b.txt 2>&1
el "whatifs rc=$?"
cd /tmp && tar czf $OUT/wd.tgz wd
echo ====; cat $W/steps.txt; tail -20 $W/whatifs5b.txt
