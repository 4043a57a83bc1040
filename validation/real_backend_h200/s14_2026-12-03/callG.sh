#!/bin/bash
# session 14 call G: round 6 (predictions6_bert-base_T128_L1.json, committed before this call): the LAN overlap pair
# (the model now launching a concurrent flush's PFSS jobs on the party's one thread) and SIGMA inverse (its gate built
# before the clock since call F), against the defaults, in rounds, four runs a configuration as far as the budget goes.
export TMPDIR=/dev/shm
W=/tmp/wd; mkdir -p $W
T0=$(date +%s)
el() { echo "[$(( $(date +%s) - T0 )) s] $*" | tee -a $W/steps.txt; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > $W/card.txt 2>&1
el "start $(tail -1 $W/card.txt) $(nproc) cpus"
timeout 440 python3 benchmarks/real_runs.py --gpu --mps --out $W/whatifs6 --case bert-base:128:1 --runs 4 --budget-s 400 \
  --config '' --config 'SUF_INV_MODE=sigma_gpu,inv_sigma_muls=0' --config 'chains=2,net=lan' \
  --config 'policy=have_pfss_work,chains=2,net=lan' > $W/whatifs6.txt 2>&1
el "whatifs rc=$?"
cd /tmp && tar czf $OUT/wd.tgz wd
echo ====; cat $W/steps.txt; tail -22 $W/whatifs6.txt
