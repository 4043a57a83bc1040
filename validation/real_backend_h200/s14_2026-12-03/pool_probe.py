"""Does a fresh allocation size cost a first-use wait on this machine, and does a block reserved before it take that
wait away? ``python pool_probe.py fresh|reserved``: in a new process, CuPy's pool allocates arrays of the sizes the
softmax max tree makes (bert-tiny, T = 128: 8,192 words halving to 256, a few arrays a level), each followed by a
device sync, and prints the median and the total time per allocation; ``reserved`` first allocates and frees 1 GiB
so that the pool splits the later allocations from it."""

import statistics
import sys
import time

import cupy as cp

cp.zeros(1)   # the context and the pool exist before the clock
cp.cuda.Device().synchronize()
if sys.argv[1] == "reserved":
    block = cp.empty(1 << 30, dtype=cp.uint8)
    del block
times, held = [], []   # every array held, as a run's live values are: nothing freed is there to reuse
for words in (8192, 4096, 2048, 1024, 512, 256):
    for _ in range(4):
        start = time.perf_counter()
        held.append(cp.empty(words + 64 * len(times), dtype=cp.uint64))   # a size of its own each time
        held[-1].fill(1)
        cp.cuda.Device().synchronize()
        times.append(time.perf_counter() - start)
print(f"{sys.argv[1]:9s} allocations {len(times)}  median {statistics.median(times) * 1e6:7.1f} us  "
      f"total {sum(times) * 1e3:6.2f} ms  first {times[0] * 1e6:7.1f} us")
