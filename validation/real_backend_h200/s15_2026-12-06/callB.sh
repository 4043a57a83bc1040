#!/bin/bash
# For the next session with a device (not run in session 15). Call A found that a rehearsal at the run's length makes
# both layers equal but slower. Hypothesis: the rehearsal's freed keys leave large free chunks in CuPy's one pool,
# which the run's small working arrays then split (and merge back) instead of reusing chunks of their own sizes;
# run --keys-own-pool puts each party's keys in a pool of their own. bert-tiny two layers at T = 128, in rounds,
# under MPS: the default, the keys' own pool, and the keys' own pool with a 128-token rehearsal (which the hypothesis
# says should make layer 0 as fast as layer 1); then the layer split.
export TMPDIR=/dev/shm
W=/tmp/wb; mkdir -p $W
T0=$(date +%s)
el() { echo "[$(( $(date +%s) - T0 )) s] $*" | tee -a $W/steps.txt; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > $W/card.txt 2>&1
el "start $(tail -1 $W/card.txt) $(nproc) cpus"
timeout 120 python3 -m pytest -q -p no:cacheprovider -m gpu tests/real_backend/test_gpu.py -k own_pool > $W/gpu_test.txt 2>&1
el "own-pool GPU test rc=$? $(tail -1 $W/gpu_test.txt)"
timeout 330 python3 benchmarks/real_runs.py --gpu --mps --out $W/tiny --case bert-tiny:128:2 --runs 4 --warm-up 1 \
  --budget-s 290 --config '' --config 'keys_own_pool=1' --config 'keys_own_pool=1,rehearse_tokens=128' \
  > $W/tiny.txt 2>&1
el "tiny rc=$?"
python3 validation/real_backend_h200/s15_2026-12-06/layer_split.py $W/tiny > $W/layer_split.txt 2>&1
cd /tmp && tar czf $OUT/wb.tgz wb
echo ====; cat $W/steps.txt; head -14 $W/layer_split.txt | cut -c1-120; grep -A6 "runs, online" $W/layer_split.txt
