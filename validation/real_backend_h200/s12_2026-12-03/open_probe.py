"""Where a 1-word open's time goes on the GPU side: each piece alone (one process, medians over many reps, us),
then whole 1-word opens against a NumPy echo peer process (no second GPU client)."""
import multiprocessing as mp
import sys
import time

import numpy as np


def med(fn, reps=2000, warm=50):
    for _ in range(warm):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return 1e6 * float(np.median(ts)), 1e6 * float(np.percentile(ts, 90))


def peer(port_q, words):
    from real_backend.channel import connect
    from real_backend.opening import exchange
    ch = connect(f"127.0.0.1:{port_q.get()}", 30)
    z = np.zeros(words, dtype=np.uint64)
    try:
        while True:
            exchange(ch, z)
    except Exception:
        pass


def main():
    import cupy as cp

    from real_backend import gpu_wire
    from real_backend.channel import accept, listen
    from real_backend.opening import ChannelOpen, _timer, exchange
    from real_backend.ring import Ring
    n = 48
    s = cp.cuda.get_current_stream()
    one = cp.ones(1, dtype=cp.uint64)
    ring = Ring(n)
    st = gpu_wire.Staging()
    st.reserve(4096)
    rows = {}
    rows["sync_empty"] = med(s.synchronize)
    rows["ring_add_launch"] = med(lambda: ring.add(one, one))
    rows["ring_add+sync"] = med(lambda: (ring.add(one, one), s.synchronize()))
    rows["concatenate_1"] = med(lambda: cp.concatenate([one]))
    rows["timer_pair"] = med(lambda: _timer(cp)())
    rows["event_record"] = med(lambda: cp.cuda.Event().record())
    rows["pack_down_mapped(+sync)"] = med(lambda: st.pack_down(one, n))
    rb = st.receive_buffer(8).view(np.uint64)
    rows["combine_mapped"] = med(lambda: st.combine(rb, one, n))
    rows["combine_mapped+sync"] = med(lambda: (st.combine(rb, one, n), s.synchronize()))
    rows["receive_buffer"] = med(lambda: st.receive_buffer(8))
    rows["cp.empty(1)"] = med(lambda: cp.empty(1, dtype=cp.uint64))
    rows["get_1word"] = med(lambda: one.get())
    srv = listen("127.0.0.1:0")
    q = mp.get_context("spawn").Queue()
    q.put(srv.getsockname()[1])
    p = mp.get_context("spawn").Process(target=peer, args=(q, 1), daemon=True)
    p.start()
    ch = accept(srv, 30)
    z = np.zeros(1, dtype=np.uint64)
    rows["exchange_1word_cpu_peer"] = med(lambda: exchange(ch, z))
    op = ChannelOpen(ch)
    rows["open_1word(+sync)"] = med(lambda: (op(one, n), s.synchronize()))
    rows["open_1word_nosync"] = med(lambda: op(one, n))
    ch.close()
    p.join(5)
    for k, (m, p90) in rows.items():
        print(f"{k:28s} median {m:8.1f} us   p90 {p90:8.1f} us", flush=True)


if __name__ == "__main__":
    sys.exit(main())
