#!/bin/bash
# Measures SUF's bench_suf_transformer (scratch build, not part of the repo) on this machine's GPU.
# Run from a folder holding the binary (and lib/ with libgomp/libcrypto if the machine lacks them):
#   OUT=/tmp/out ./run_suf_bench.sh 'run gpt2_a 120 --model gpt2' 'T=256 run gpt2_T256 150 --model gpt2' \
#       'BIN=./bench_suf_transformer_traced TRACE=1 N=2 run tr_gpt2 150 --model gpt2'
# Each plan is `[VAR=value ...] run TAG TIMEOUT_S BENCH_ARGS...`; BIN (binary), TRACE (SUF_FLUSH_TRACE=1),
# N (--n-iters, 3), T (--seq-len, 128). Writes $OUT/runs.jsonl (each bench JSON plus _tag), json.tgz, logs.tgz.
: "${OUT:?set OUT to an output folder}"
cd "$(dirname "$0")"
B=${BIN:-./bench_suf_transformer}
if ldd $B | grep -q "not found"; then export LD_LIBRARY_PATH=$PWD/lib:$LD_LIBRARY_PATH; fi
ldd $B | grep -E "not found|crypto|gomp|cudart" 
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
nproc
mkdir -p $OUT/json
run() { # tag, timeout, args...
  local tag=$1; shift; local to=$1; shift
  local t0=$(date +%s%N)
  env SUF_BENCH_PROFILE=1 ${TRACE:+SUF_FLUSH_TRACE=1} timeout $to ${BIN:-$B} --backend gpu --seq-len ${T:-128} --batch-size 1 --n-iters ${N:-3} --log-json $OUT/json/$tag.json "$@" > $OUT/json/$tag.log 2>&1
  local rc=$?; echo "$tag rc=$rc wall_ms=$(( ($(date +%s%N) - t0) / 1000000 ))"
}
for plan in "$@"; do eval "$plan"; done
python3 - <<'PY'
import json, glob, os
out = os.environ["OUT"]
with open(f"{out}/runs.jsonl", "w") as f:
    for p in sorted(glob.glob(f"{out}/json/*.json")):
        d = json.load(open(p)); d["_tag"] = os.path.basename(p)[:-5]; f.write(json.dumps(d) + "\n")
        t = d["timing"]; op = d.get("online_profile", {})
        print(f"{d['_tag']:24s} online {t['online_time_s']:.4f} mean {t.get('online_time_s_mean',0):.4f} keygen {t['keygen_time_s']:.3f} opens {d['pfss']['open_flushes']} net {d['communication']['net_bytes']} openflush {op.get('open_flush_ns',0)/2e9:.4f} eval {op.get('pfss_flush_eval_ns',0)/2e9:.4f}")
PY
cd $OUT && tar czf logs.tgz json/*.log && rm -f json/*.log && tar czf json.tgz json && rm -rf json
