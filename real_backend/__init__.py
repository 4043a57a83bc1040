"""real_backend: real two-party FSS on secret shares (CuPy on a GPU, NumPy otherwise).

Layers (CrypTen-style, each with a narrow interface):
- ``ring``, ``chacha``, ``rng``: arithmetic in Z_2^n, the ChaCha PRG, the dealer's random streams;
- ``dpf``, ``dcf``, ``kernels``: FSS schemes (array code plus fused CUDA kernels for evaluation);
- ``engine``: the one place where an evaluation picks the fused kernel (CuPy inputs) or the array code (NumPy);
- ``gates``: masked-wire gates, each ``keygen(dealer, n, ...)`` + ``eval(party, key, hatx) -> share``;
- ``beaver``: Beaver triples and masked openings; ``dealer``: all correlated randomness from one seed;
- ``channel``, ``wire``: framed two-party transport with counters; ``selftest``: a two-process run;
- the simulator's tasks on shares: ``tape`` (key tapes), ``dealer_pass`` (writes them), ``context`` (``RealContext``
  and its flushes), ``task_gates`` and ``task_triples`` (the tasks' gates and products), ``twoparty`` (both parties'
  runs), ``trace_out`` (a run as a trace), ``run`` (``python -m real_backend run``, ``party``, ``combine``).

This package never imports ``simflush.sim`` (DESIGN.md §3).
"""
