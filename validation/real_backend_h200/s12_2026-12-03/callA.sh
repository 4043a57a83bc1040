#!/bin/bash
# session 12 call A: 1-word open pieces, GPU open bench (final channel + zero-copy), bert-tiny profile, bert-tiny runs
export TMPDIR=/dev/shm
W=/tmp/wa; mkdir -p $W
T0=$(date +%s)
el() { echo "[$(( $(date +%s) - T0 )) s] $*" | tee -a $W/steps.txt; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > $W/card.txt 2>&1
el "start $(tail -1 $W/card.txt) $(git rev-parse --short HEAD 2>/dev/null)"
timeout 60 python3 devcall/open_probe.py > $W/open_probe.txt 2>&1; el "probe rc=$?"
export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps_pipe CUDA_MPS_LOG_DIRECTORY=/tmp/mps_log; mkdir -p $CUDA_MPS_PIPE_DIRECTORY $CUDA_MPS_LOG_DIRECTORY
nvidia-cuda-mps-control -d
timeout 40 python3 devcall/open_probe.py > $W/open_probe_mps.txt 2>&1; el "probe mps rc=$?"
timeout 80 python3 benchmarks/real_backend_bench.py --gpu-open --out $W --label h200-s12-mps-final-channel > $W/open_bench.txt 2>&1; el "open bench rc=$?"
echo quit | nvidia-cuda-mps-control; sleep 1
timeout 70 python3 benchmarks/real_profile.py --model bert-tiny --layers 2 --seq-len 128 --gpu --repeat 4 --cprofile $W/cprofile_tiny.txt --json $W/profile_tiny.json > $W/profile_tiny.txt 2>&1; el "profile rc=$?"
timeout 130 python3 benchmarks/real_runs.py --out $W/runs --gpu --mps --warm-up 1 --runs 3 --budget-s 110 --case bert-tiny:128:2 > $W/runs.txt 2>&1; el "runs rc=$?"
cd /tmp && tar czf $OUT/wa.tgz wa
echo ====; cat $W/steps.txt; cat $W/open_probe.txt $W/open_probe_mps.txt; grep -i "small\|open_s\|open_16" $W/open_bench.txt; tail -14 $W/profile_tiny.txt; tail -6 $W/runs.txt
