"""Each party on its own CPU cores (``python -m real_backend run --pin-cores``), as two servers would be.

Both party processes of a colocated run share one host: left to the scheduler, they (and their channel threads)
can land on the two hardware threads of one core or move between cores mid-run, which slows a whole run's host work
alike. Pinning gives party 0 the first half of this process's physical cores and party 1 the second half, each
core with all its hardware threads.
"""
from __future__ import annotations

import os
from pathlib import Path

TOPOLOGY = Path("/sys/devices/system/cpu")


def physical_cores(cpus: set[int], topology: Path = TOPOLOGY) -> list[list[int]]:
    """``cpus`` grouped by physical core (its hardware threads together), in CPU order; a CPU without a topology
    entry is its own core."""
    cores: dict[str, list[int]] = {}
    for cpu in sorted(cpus):
        siblings = topology / f"cpu{cpu}" / "topology" / "thread_siblings_list"
        key = siblings.read_text().strip() if siblings.exists() else str(cpu)
        cores.setdefault(key, []).append(cpu)
    return list(cores.values())


def party_cpus(cpus: set[int], topology: Path = TOPOLOGY) -> tuple[set[int], set[int]]:
    """Disjoint CPU sets for party 0 and party 1: half the physical cores each (with fewer than two cores, both
    get all of them)."""
    cores = physical_cores(cpus, topology)
    if len(cores) < 2:
        return set(cpus), set(cpus)
    half = len(cores) // 2
    return {c for core in cores[:half] for c in core}, {c for core in cores[half:2 * half] for c in core}


def pin(pid: int, party: int) -> set[int]:
    """Pin process ``pid`` to party ``party``'s CPUs (of this process's own); returns them."""
    mine = party_cpus(os.sched_getaffinity(0))[party]
    os.sched_setaffinity(pid, mine)
    return mine
