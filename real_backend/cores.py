"""Each party on its own CPU cores (``python -m real_backend run --pin-cores``), as two servers would be.

Both party processes of a colocated run share one host: left to the scheduler, they (and their channel threads)
can land on the two hardware threads of one core or move between cores mid-run, which slows a whole run's host work
alike. Pinning gives party 0 the first half of this process's physical cores and party 1 the second half, each
core with all its hardware threads.

Where each party actually ran is recorded either way (``current_cpu`` at the clock's start, each layer's start and
the end; ``cpu_node`` and ``gpu_node`` for the NUMA nodes), so that a run whose host was slow throughout can be
matched with where it was.
"""
from __future__ import annotations

import os
from pathlib import Path

TOPOLOGY = Path("/sys/devices/system/cpu")
PCI_DEVICES = Path("/sys/bus/pci/devices")
THREAD_STAT = Path("/proc/thread-self/stat")


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


def current_cpu(stat: Path = THREAD_STAT) -> int | None:
    """The CPU the calling thread last ran on (field 39 of its ``stat`` line), or None where there is no such file."""
    try:
        text = stat.read_text()
    except OSError:
        return None
    return int(text.rsplit(")", 1)[1].split()[36])   # after the command's ")": field 3 onwards


def cpu_node(cpu: int, topology: Path = TOPOLOGY) -> int | None:
    """The NUMA node of ``cpu`` (its ``nodeN`` entry), or None where the topology does not say."""
    nodes = sorted((topology / f"cpu{cpu}").glob("node[0-9]*"))
    return int(nodes[0].name[4:]) if nodes else None


def gpu_node(pci_bus_id: str, devices: Path = PCI_DEVICES) -> int | None:
    """The NUMA node of the PCI device ``pci_bus_id`` (e.g. a GPU's '0000:1B:00.0'), or None where the system does
    not say (no entry, or -1)."""
    entry = devices / pci_bus_id.lower() / "numa_node"
    try:
        node = int(entry.read_text().strip())
    except (OSError, ValueError):
        return None
    return node if node >= 0 else None
