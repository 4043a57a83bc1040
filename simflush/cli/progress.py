"""Progress bars on stderr for the long commands (tqdm: rate and ETA), quiet when stderr is not a terminal
(pipes, CI logs, captured test output)."""

import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def _quiet() -> bool:
    return not sys.stderr.isatty()


def bar(total: int, desc: str, unit: str = "config", initial: int = 0) -> tqdm:
    """A bar of ``total`` items; ``update(n)`` as they finish; close it (or use ``with``) when done."""
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, file=sys.stderr, disable=_quiet(),
                dynamic_ncols=True, smoothing=0.1)


def track(items: Iterable[T], total: int, desc: str, unit: str = "item") -> Iterator[T]:
    """``items`` with a bar advancing per item."""
    with bar(total, desc, unit) as b:
        for item in items:
            yield item
            b.update()


def callback(desc: str) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` callback (the library's progress hook) drawing one bar per run of it:
    a new bar starts whenever ``done`` goes back (the next study of a report)."""
    state: dict = {"bar": None, "done": 0}

    def progress(done: int, total: int) -> None:
        if state["bar"] is None or done <= state["done"]:
            if state["bar"] is not None:
                state["bar"].close()
            state["bar"] = bar(total, desc)
            state["done"] = 0
        state["bar"].update(done - state["done"])
        state["done"] = done
        if done >= total:
            state["bar"].close()
            state["bar"] = None
    return progress
