"""The simulation context: values are ``Sym`` (word counts); every operation computes sizes only."""

from typing import Any, NamedTuple

from ..executor.context import ExecutorContext
from ..tasks.context import BeaverOp, Sym, beaver_open_words, beaver_output_words, deps_of
from ..tasks.gates import Gate
from ..tasks.local_ops import LOCAL_OPS, LocalOp
from ..tasks.tables import FRAC_BITS


class DirectFss(NamedTuple):
    """One FSS evaluation inside a task step (``fss_direct``): ``gate`` on ``hatx_words`` words."""

    gate: Gate
    hatx_words: int


class SymbolicContext(ExecutorContext):
    """``direct_work`` collects the ``fss_direct`` evaluations of task steps, for the engine to charge
    as local GPU work before the next flush; ``local_work`` likewise the local ops named in ``priced``
    (those the cost model charges), as ``(op, words)``."""

    frac_bits = FRAC_BITS  # sizes do not depend on it

    def __init__(self, executor, priced: frozenset[str] = frozenset()):
        super().__init__(executor)
        self.direct_work: list[DirectFss] = []
        self.priced = priced
        self.local_work: list[tuple[str, int]] = []

    def words(self, x: Sym) -> int:
        return x.words

    def mask(self, x: Sym, gate: Gate) -> Sym:
        return x

    def beaver(self, op: BeaverOp, *operands: Any, shape: tuple[int, ...]) -> tuple[Sym, Any]:
        deps = deps_of(*operands)
        return Sym(beaver_open_words(op, shape), deps), (op, shape, deps)

    def beaver_finish(self, token: Any, opened: Sym) -> Sym:
        op, shape, deps = token
        return Sym(beaver_output_words(op, shape), deps | opened.deps)

    def local(self, op: LocalOp, *inputs: Sym, **params: Any) -> Sym:
        words = LOCAL_OPS[op].size(tuple(x.words for x in inputs), params)
        if op in self.priced:
            self.local_work.append((op, words))
        return Sym(words, deps_of(*inputs))

    def fss_direct(self, gate: Gate, hatx: Sym) -> Sym:
        self.direct_work.append(DirectFss(gate, hatx.words))
        return Sym(hatx.words, hatx.deps)

    def take_direct_work(self) -> list[DirectFss]:
        """The evaluations since the last call (and forget them)."""
        work, self.direct_work = self.direct_work, []
        return work

    def take_local_work(self) -> list[tuple[str, int]]:
        """The priced local ops since the last call (and forget them)."""
        work, self.local_work = self.local_work, []
        return work
