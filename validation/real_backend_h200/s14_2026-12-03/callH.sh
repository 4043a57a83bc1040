#!/bin/bash
# session 14 call H: is the first layer's extra host time CuPy's pool asking the driver for memory of new sizes, and
# does a reserved block remove it? pool_probe.py without and under MPS, each mode in fresh processes, three times.
W=/tmp/wh; mkdir -p $W
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/card.txt 2>&1
P=validation/real_backend_h200/s14_2026-12-03/pool_probe.py
for i in 1 2 3; do for m in fresh reserved; do echo "no MPS $(timeout 30 python3 $P $m)"; done; done > $W/probe.txt 2>&1
export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps_pipe CUDA_MPS_LOG_DIRECTORY=/tmp/mps_log; mkdir -p $CUDA_MPS_PIPE_DIRECTORY $CUDA_MPS_LOG_DIRECTORY
nvidia-cuda-mps-control -d
for i in 1 2 3; do for m in fresh reserved; do echo "MPS    $(timeout 30 python3 $P $m)"; done; done >> $W/probe.txt 2>&1
echo quit | nvidia-cuda-mps-control; sleep 1
cd /tmp && tar czf $OUT/wh.tgz wh
cat $W/card.txt $W/probe.txt
