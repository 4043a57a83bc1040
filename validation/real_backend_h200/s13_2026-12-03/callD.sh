#!/bin/bash
# session 13 call D: round 5's what-ifs with the largest predicted effects (SIGMA nExp, folded interval keys,
# have_pfss_work with 2 chains on WAN), measured after predictions5_bert-base_T128_L1.json was committed; the
# configurations in rounds (the defaults first, as the shared baseline), as far as the budget goes.
export TMPDIR=/dev/shm
W=/tmp/wd; mkdir -p $W
T0=$(date +%s)
el() { echo "[$(( $(date +%s) - T0 )) s] $*" | tee -a $W/steps.txt; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > $W/card.txt 2>&1
el "start $(tail -1 $W/card.txt) $(nproc) cpus"
timeout 350 python3 benchmarks/real_runs.py --gpu --mps --out $W/whatifs5 --case bert-base:128:1 --runs 2 --budget-s 300 \
  --config '' --config 'SUF_NEXP_MODE=sigma_gpu' --config 'interval_fold=0' --config 'chains=2,net=wan' \
  --config 'policy=have_pfss_work,chains=2,net=wan' > $W/whatifs5.txt 2>&1; el "whatifs rc=$?"
cd /tmp && tar czf $OUT/wd.tgz wd
echo ====; cat $W/steps.txt; tail -12 $W/whatifs5.txt
