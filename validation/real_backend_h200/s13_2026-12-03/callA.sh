#!/bin/bash
# session 13 call A: where bert-tiny's two-party time goes. (1) real runs, default spin and 2 ms spin, in rounds,
# their traces carrying each open's wait_s / comm_s; (2) one echo-peer profile alone, then two at once (does a second
# party process slow the first: host or GPU contention, or is the two-party cost the lockstep?); (3) 1-word open bench.
export TMPDIR=/dev/shm
W=/tmp/wa; mkdir -p $W
T0=$(date +%s)
el() { echo "[$(( $(date +%s) - T0 )) s] $*" | tee -a $W/steps.txt; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > $W/card.txt 2>&1
el "start $(tail -1 $W/card.txt) $(nproc) cpus"
timeout 250 python3 benchmarks/real_runs.py --out $W/runs --gpu --mps --warm-up 1 --runs 3 --budget-s 230 \
  --case bert-tiny:128:2 --config '' --config spin_us=2000 > $W/runs.txt 2>&1; el "runs rc=$?"
export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps_pipe CUDA_MPS_LOG_DIRECTORY=/tmp/mps_log; mkdir -p $CUDA_MPS_PIPE_DIRECTORY $CUDA_MPS_LOG_DIRECTORY
nvidia-cuda-mps-control -d
P="python3 benchmarks/real_profile.py --model bert-tiny --layers 2 --seq-len 128 --gpu --repeat 5"
timeout 70 $P --json $W/echo_alone.json > $W/echo_alone.txt 2>&1; el "echo alone rc=$?"
timeout 90 $P --json $W/echo_pair0.json > $W/echo_pair0.txt 2>&1 &
timeout 90 $P --json $W/echo_pair1.json > $W/echo_pair1.txt 2>&1; wait; el "echo pair done"
timeout 50 python3 benchmarks/real_backend_bench.py --gpu-open --out $W --label h200-s13-mps > $W/open_bench.txt 2>&1; el "open bench rc=$?"
echo quit | nvidia-cuda-mps-control; sleep 1
python3 validation/real_backend_h200/s13_2026-12-03/open_split.py $W/runs > $W/open_split.txt 2>&1
cd /tmp && tar czf $OUT/wa.tgz wa
echo ====; cat $W/steps.txt; tail -8 $W/runs.txt; cat $W/open_split.txt; for f in alone pair0 pair1; do echo "-- $f"; grep "^run " $W/echo_$f.txt; done; grep -i "small_open\|open_s " $W/open_bench.txt | head -5
