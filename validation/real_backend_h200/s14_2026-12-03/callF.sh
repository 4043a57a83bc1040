#!/bin/bash
# session 14 call F: SIGMA inverse again now that its gate is built before the clock (call E: its LUT was made
# inside the flush), the LAN overlap pair and the SIGMA rsqrt LUT pair at 52 bits, against the defaults measured in
# the same call, from predictions5_bert-base_T128_L1.json (committed in session 13, before these runs); in rounds.
export TMPDIR=/dev/shm
W=/tmp/wd; mkdir -p $W
T0=$(date +%s)
el() { echo "[$(( $(date +%s) - T0 )) s] $*" | tee -a $W/steps.txt; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > $W/card.txt 2>&1
el "start $(tail -1 $W/card.txt) $(nproc) cpus"
timeout 440 python3 benchmarks/real_runs.py --gpu --mps --out $W/whatifs5c --case bert-base:128:1 --runs 3 --budget-s 400 \
  --config '' --config 'SUF_INV_MODE=sigma_gpu,inv_sigma_muls=0' --config 'chains=2,net=lan' \
  --config 'policy=have_pfss_work,chains=2,net=lan' --config 'n_bits=52' --config 'n_bits=52,SUF_RSQRT_MODE=sigma_gpu' > $W/whatifs5c.txt 2>&1
el "whatifs rc=$?"
cd /tmp && tar czf $OUT/wd.tgz wd
echo ====; cat $W/steps.txt; tail -20 $W/whatifs5c.txt
