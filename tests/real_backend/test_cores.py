"""``--pin-cores``: each party on its own physical cores, hardware threads of a core kept together (a pinned run:
test_run_cli); where a party ran: its CPU and their NUMA nodes."""
import os
import threading

from real_backend.cores import cpu_node, current_cpu, gpu_node, party_cpus, physical_cores


def topology(tmp_path, siblings: dict[int, str]):
    for cpu, group in siblings.items():
        folder = tmp_path / f"cpu{cpu}" / "topology"
        folder.mkdir(parents=True)
        (folder / "thread_siblings_list").write_text(group + "\n")
    return tmp_path


def test_the_halves_are_disjoint_whole_cores(tmp_path):
    # 4 cores, hardware threads i and i + 4 on core i (as Linux numbers them)
    topo = topology(tmp_path, {i: f"{i % 4},{i % 4 + 4}" for i in range(8)})
    assert physical_cores(set(range(8)), topo) == [[0, 4], [1, 5], [2, 6], [3, 7]]
    zero, one = party_cpus(set(range(8)), topo)
    assert zero == {0, 1, 4, 5} and one == {2, 3, 6, 7}
    assert party_cpus({0, 1, 2, 4, 5}, topo) == ({0, 4}, {1, 5})   # an odd core out: halves stay equal


def test_one_core_is_shared(tmp_path):
    topo = topology(tmp_path, {0: "0,1", 1: "0,1"})
    assert party_cpus({0, 1}, topo) == ({0, 1}, {0, 1})


def test_the_cpu_a_thread_runs_on_is_read_from_its_stat_line(tmp_path):
    mine = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(mine)})   # this thread alone, on one CPU: it can only be there
    try:
        assert current_cpu() == min(mine)
        seen = []
        thread = threading.Thread(target=lambda: seen.append(current_cpu()))
        thread.start()
        thread.join()
        assert seen == [min(mine)]   # a new thread inherits the affinity: its own stat line says the same
    finally:
        os.sched_setaffinity(0, mine)
    # a command with spaces and a ")" in its name: the fields are counted after its last ")"
    fields = ["S"] + [str(i) for i in range(4, 39)] + ["13"] + ["0"] * 13
    (tmp_path / "stat").write_text("4242 (a) b (c)) " + " ".join(fields) + "\n")
    assert current_cpu(tmp_path / "stat") == 13
    assert current_cpu(tmp_path / "missing") is None


def test_numa_nodes_of_a_cpu_and_a_pci_device(tmp_path):
    for cpu, node in ((0, 0), (1, 1)):
        (tmp_path / "cpu" / f"cpu{cpu}" / f"node{node}").mkdir(parents=True)
    (tmp_path / "cpu" / "cpu2").mkdir()
    assert [cpu_node(c, tmp_path / "cpu") for c in (0, 1, 2)] == [0, 1, None]
    for bus, node in (("0000:1b:00.0", "1"), ("0000:2c:00.0", "-1")):
        (tmp_path / "pci" / bus).mkdir(parents=True)
        (tmp_path / "pci" / bus / "numa_node").write_text(node + "\n")
    assert gpu_node("0000:1B:00.0", tmp_path / "pci") == 1   # CUDA names the bus in capitals, sysfs in small letters
    assert gpu_node("0000:2C:00.0", tmp_path / "pci") is None   # -1: the system does not say
    assert gpu_node("", tmp_path / "pci") is None
