"""Where a sweep's configurations run: this process, a local process pool, or Dask distributed.

Every executor has ``map_unordered(fn, items)``: a generator of ``fn(item)`` as they finish, with a bounded
number in flight (memory stays flat however many items there are). Closing the generator (Ctrl-C) stops
the work: queued items are cancelled, the pool or cluster shut down.
"""

import contextlib
import logging
import re
import signal
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Protocol

from ...errors import ConfigError

CONNECT_TIMEOUT_S = 10
IN_FLIGHT_PER_WORKER = 4   # enough to keep a worker busy between results, few enough to keep memory small


class Executor(Protocol):
    def map_unordered(self, fn: Callable, items: Iterable) -> Iterator: ...


class InProcess:
    """One configuration after another in this process (``--jobs 1``)."""

    def map_unordered(self, fn: Callable, items: Iterable) -> Iterator:
        for item in items:
            yield fn(item)


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the parent, which stops them (no traceback per worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def _sigint_ignored_by_children():
    """Processes started inside inherit an ignored SIGINT (a terminal's Ctrl-C reaches the whole group)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _sigint_deferred():
    """Ctrl-C sets a flag instead of raising wherever the main thread is: a KeyboardInterrupt inside a
    ``ProcessPoolExecutor`` submit or wait can leave the pool unable to shut down. The caller raises it at a safe
    point (``interrupted()`` true)."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    hit = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: hit.set())
    try:
        yield hit.is_set
    finally:
        signal.signal(signal.SIGINT, previous)


POLL_S = 0.1   # how often a deferred Ctrl-C is looked at while waiting for results


def _wait_some(pending: set, interrupted: Callable[[], bool], wait_any: Callable | None = None) -> tuple[set, set]:
    """The first finished of ``pending`` (and the rest), or KeyboardInterrupt once Ctrl-C was pressed.
    ``wait_any(pending, timeout)``: (finished, left) within ``timeout`` (default: ``concurrent.futures``')."""
    wait_any = wait_any or (lambda fs, timeout: wait(fs, timeout=timeout, return_when=FIRST_COMPLETED))
    while True:
        if interrupted():
            raise KeyboardInterrupt
        finished, left = wait_any(pending, POLL_S)
        if finished:
            return set(finished), set(left)


class ProcessPool:
    """``jobs`` local worker processes (``--jobs N``, the default executor)."""

    def __init__(self, jobs: int):
        self.jobs = jobs

    def map_unordered(self, fn: Callable, items: Iterable) -> Iterator:
        with _sigint_deferred() as interrupted:
            pool = ProcessPoolExecutor(self.jobs, initializer=_ignore_sigint)
            pending: set = set()
            try:
                for item in items:
                    if interrupted():
                        raise KeyboardInterrupt
                    pending.add(pool.submit(fn, item))
                    if len(pending) >= self.jobs * IN_FLIGHT_PER_WORKER:
                        finished, pending = _wait_some(pending, interrupted)
                        yield from (f.result() for f in finished)
                while pending:
                    finished, pending = _wait_some(pending, interrupted)
                    yield from (f.result() for f in finished)
            finally:
                pool.shutdown(wait=True, cancel_futures=True)


class Dask:
    """Dask distributed: a scheduler at ``address`` (``--scheduler tcp://host:8786``), or, without one, a
    LocalCluster of ``jobs`` single-threaded worker processes (``--dask local``)."""

    def __init__(self, address: str | None = None, jobs: int = 2):
        self.address, self.jobs = address, jobs
        if address is not None:
            _probe(address)

    def _client(self):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ConfigError("Dask is not installed: pip install 'simflush[dask]'") from None
        if self.address is None:
            # its workers' logs silenced to CRITICAL: at a Ctrl-C a loaded machine's workers log heartbeat errors
            # while the scheduler in this process shuts down; a worker's real failure still reaches the sweep as
            # its task's error (KilledWorker, the task's exception)
            with _sigint_ignored_by_children():
                cluster = LocalCluster(n_workers=self.jobs, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=logging.CRITICAL)
            return Client(cluster), cluster
        try:
            client = Client(self.address, timeout=CONNECT_TIMEOUT_S)
        except Exception as exc:  # whatever failed (timeout, a server of another protocol), there is no scheduler
            reason = str(exc).splitlines()[0] if isinstance(exc, OSError) and str(exc) else "not a Dask scheduler"
            raise ConfigError(f"--scheduler {self.address}: no Dask scheduler answered within "
                              f"{CONNECT_TIMEOUT_S} s ({reason})") from None
        try:  # a scheduler without workers would take the sweep and never run it
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
        except TimeoutError:
            client.close()
            raise ConfigError(f"--scheduler {self.address}: no worker joined within {CONNECT_TIMEOUT_S} s "
                              "(start some with `dask worker ADDR`)") from None
        return client, None

    def map_unordered(self, fn: Callable, items: Iterable) -> Iterator:
        client, cluster = self._client()
        window = max(1, sum(client.nthreads().values())) * IN_FLIGHT_PER_WORKER
        # Ctrl-C deferred as for the pool: raised inside a client's blocking call, it makes that call cancel its
        # coroutine on the client's event loop, which logs a traceback for a stop the user asked for
        with _sigint_deferred() as interrupted:
            pending: set = set()
            try:
                for item in items:
                    if interrupted():
                        raise KeyboardInterrupt
                    pending.add(client.submit(fn, item, pure=False))
                    if len(pending) >= window:
                        finished, pending = _wait_some(pending, interrupted, _dask_wait_any)
                        yield from (f.result() for f in finished)
                while pending:
                    finished, pending = _wait_some(pending, interrupted, _dask_wait_any)
                    yield from (f.result() for f in finished)
            finally:
                # cancelling what is in flight makes our local scheduler log an error for each key it forgot
                quiet = logging.getLogger("distributed")
                level = quiet.level
                if cluster is not None:
                    quiet.setLevel(logging.CRITICAL)
                try:
                    client.cancel(list(pending))
                    client.close()
                    if cluster is not None:
                        cluster.close()
                finally:
                    quiet.setLevel(level)


def _dask_wait_any(pending: set, timeout: float) -> tuple:
    """Dask futures' (finished, left) within ``timeout`` (distributed's wait raises where none finished)."""
    from distributed import TimeoutError as DaskTimeout
    from distributed import wait as dask_wait

    try:
        return tuple(dask_wait(list(pending), timeout=timeout, return_when="FIRST_COMPLETED"))
    except (DaskTimeout, TimeoutError):
        return set(), pending


def _probe(address: str) -> None:
    """Fail fast, in one line, on a scheduler address that is malformed or where nothing listens
    (a TCP connect with a timeout: an unreachable host costs at most ``CONNECT_TIMEOUT_S``)."""
    match = re.fullmatch(r"(?:tcp|tls)://\[?([^\]/]+?)\]?:(\d+)/?", address)
    if not match:
        raise ConfigError(f"--scheduler {address!r}: expected tcp://HOST:PORT (e.g. tcp://10.0.0.5:8786)")
    host, port = match.group(1), int(match.group(2))
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise ConfigError(f"--scheduler {address}: cannot connect within {CONNECT_TIMEOUT_S} s ({reason})") from None
