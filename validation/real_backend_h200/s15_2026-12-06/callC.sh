#!/bin/bash
# For the next session with a device (not run in session 15): are bert-tiny's fast (~86-91 ms) and slow (~122-127 ms)
# runs of call A a matter of where each party process ran? The host's topology first (CPUs, NUMA nodes, the GPU's
# affinity), then bert-tiny two layers at T = 128 unpinned and pinned, in rounds, under MPS; every run's JSON now
# records each party's CPUs and their NUMA nodes (placement), which layer_split.py prints beside its times.
export TMPDIR=/dev/shm
W=/tmp/wc; mkdir -p $W
T0=$(date +%s)
el() { echo "[$(( $(date +%s) - T0 )) s] $*" | tee -a $W/steps.txt; }
nvidia-smi --query-gpu=name,driver_version,memory.total,pci.bus_id --format=csv > $W/card.txt 2>&1
{ lscpu; nvidia-smi topo -m; ls -d /sys/devices/system/node/node*; } > $W/topology.txt 2>&1
el "start $(tail -1 $W/card.txt) $(nproc) cpus"
timeout 300 python3 benchmarks/real_runs.py --gpu --mps --out $W/tiny --case bert-tiny:128:2 --runs 6 --warm-up 1 \
  --budget-s 260 > $W/tiny.txt 2>&1
el "tiny rc=$?"
timeout 260 python3 benchmarks/real_runs.py --gpu --mps --pin-cores --out $W/pinned --case bert-tiny:128:2 --runs 6 \
  --budget-s 220 > $W/pinned.txt 2>&1
el "pinned rc=$?"
python3 validation/real_backend_h200/s15_2026-12-06/layer_split.py $W/tiny $W/pinned > $W/layer_split.txt 2>&1
cd /tmp && tar czf $OUT/wc.tgz wc
echo ====; cat $W/steps.txt; grep -i "numa\|model name\|^CPU(s)" $W/topology.txt; head -14 $W/layer_split.txt | cut -c1-200
