"""``--pin-cores``: each party on its own physical cores, hardware threads of a core kept together (a pinned run:
test_run_cli)."""

from real_backend.cores import party_cpus, physical_cores


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
