"""SUF's own environment variables, read from the process environment.

The SUF runtime is configured by env variables (``SUF_GELU_CONST=0``, ``SOFTMAX_TRUNC_REF=1``, ...), and the
knob table (``simflush.variants``) names every knob we model by that env name. A shell set up for SUF
therefore carries settings that a simulation should not drop without a word:

- a variable named like an upper-case knob of the table is a knob value (``read_environment().knobs``);
- any other ``SUF_*`` variable is one SUF has but we do not model (``.unknown``).

The library never reads the environment on its own: ``simflush.simulate(knobs=knobs_from_env())`` asks for
it. The CLI applies them to every command with ``--set`` (as if given before the command's own ``--set``,
which wins) and says so on stderr (``cli.apply_environment``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from .variants import KNOBS

SUF_PREFIX = "SUF_"


@dataclass(frozen=True)
class SufEnvironment:
    """The SUF variables of one environment.

    ``knobs``: knob name -> validated value, in the table's order; ``unknown``: ``SUF_*`` names that are no
    knob of the table, sorted.
    """

    knobs: dict[str, str]
    unknown: tuple[str, ...]


def env_knob_names() -> list[str]:
    """The knobs that SUF reads from its environment: those of the table with SUF's (upper-case) env name."""
    return [name for name in KNOBS if name.isupper()]


def read_environment(environ: Mapping[str, str] | None = None) -> SufEnvironment:
    """The SUF variables of ``environ`` (default: ``os.environ``).

    Raises ``ConfigError`` naming the variable when a knob's value is not allowed (e.g. ``SUF_GELU_CONST=2``).
    """
    environ = os.environ if environ is None else environ
    knobs = {}
    for name in env_knob_names():
        if name in environ:
            knobs[name] = KNOBS.get(name).parse(environ[name], source="environment variable")
    unknown = tuple(sorted(n for n in environ if n.startswith(SUF_PREFIX) and n not in KNOBS))
    return SufEnvironment(knobs, unknown)


def knobs_from_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Knob values from SUF's env variables, for ``simflush.simulate(knobs=...)``: merge your own after them
    (``{**knobs_from_env(), "SUF_LN_GPU": "1"}``) so that yours win, as ``--set`` does on the CLI."""
    return read_environment(environ).knobs
