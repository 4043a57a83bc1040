"""The simulation context: values are ``Sym`` (word counts); every operation computes sizes only."""

from typing import Any

from ..executor.context import ExecutorContext
from ..tasks.context import BeaverOp, Sym, beaver_open_words, beaver_output_words
from ..tasks.gates import Gate


class SymbolicContext(ExecutorContext):
    def words(self, x: Sym) -> int:
        return x.words

    def mask(self, x: Sym, gate: Gate) -> Sym:
        return x

    def beaver(self, op: BeaverOp, *operands: Any, shape: tuple[int, ...]) -> tuple[Sym, Any]:
        return Sym(beaver_open_words(op, shape)), (op, shape)

    def beaver_finish(self, token: Any, opened: Sym) -> Sym:
        op, shape = token
        return Sym(beaver_output_words(op, shape))

    def local(self, op: str, *inputs: Any, words: int) -> Sym:
        return Sym(words)
