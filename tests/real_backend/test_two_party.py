"""The tasks for real: the dealer pass, two parties on shares, the same executor.

A two-layer model small enough for NumPy (D = 16, F = 24, two heads, T = 4) at n = 48: the reconstructed output
equals the plaintext fixed-point run bit for bit, and each party's flushes equal the simulated schedule flush for
flush, for the snapshot's settings and each variant that has a real construction. The security tests read one party's
view (what it receives in opens, its tape) and each has a negative control that plants the fault.
"""

from dataclasses import replace

import numpy as np
import pytest
from tiny_models import TINY_BERT, TINY_GPT2

import real_backend.dealer_pass as dp
from models.specs import MODELS
from models.weights import random_hidden_states, random_weights
from real_backend import engine, kernels, task_gates
from real_backend.dealer import Dealer
from real_backend.ring import Ring
from real_backend.tape import (
    LayeredReader,
    Tape,
    TapeEntry,
    TapeError,
    TapeFileWriter,
    read_tape_file,
    write_private,
    write_tape_file,
)
from real_backend.twoparty import MemoryLink, PeerError, deal, rehearse, run_party, run_two_party, share_input
from simflush.plain.layer import plaintext_output
from simflush.profiles import resolve
from simflush.sim.schedule import flush_schedule
from simflush.tasks.gates import INV_LUT, with_params
from simflush.tasks.values import FixedPoint

FIXED = FixedPoint(48, 12)
T, LAYERS = 4, 2


def plaintext(spec, weights, x, settings, layers):
    return plaintext_output(spec, weights, x, settings, FIXED, layers)


def setup(knobs=None, spec=TINY_BERT, seq_len=T, layers=LAYERS):
    settings = resolve("suf-gpu-bench", spec, knobs or {})
    return spec, random_weights(spec, 3, layers), random_hidden_states(spec, seq_len, 3), settings


SLOW = pytest.mark.slow   # the same paths as a CI variant, with more of them: run with -m slow
# mul_trunc and nexp_final_trunc=0 rearrange gates the CI variants have (Beaver products, truncations); SIGMA's
# rowmax and GeLU LUTs and the 256-segment GeLU are interval gates as SIGMA's inverse and rsqrt LUTs (in CI) are,
# with other tables (the gate on any table: test_gates; each table: test_plain_tasks): slow, to keep the suite
# under CI's 10 minutes on 2 cores
VARIANTS = [{}, pytest.param({"rsqrt_iters": "2"}, marks=SLOW),
            pytest.param({"rsqrt_init_mode": "mul_trunc"}, marks=SLOW),
            pytest.param({"SUF_ROWMAX_MODE": "sigma_gpu"}, marks=SLOW),
            pytest.param({"nexp_final_trunc": "0"}, marks=SLOW), pytest.param({"prob_trunc": "0"}, marks=SLOW),
            pytest.param({"SUF_GELU_CONST": "0"}, marks=SLOW), pytest.param({"recip_iters": "2"}, marks=SLOW),
            pytest.param({"SUF_PER_ELEMENT_MASKS": "1"}, marks=SLOW),
            pytest.param({"SUF_GELU_MODE": "sigma_gpu"}, marks=SLOW),
            {"SUF_INV_MODE": "sigma_gpu", "inv_sigma_muls": "0"},
            pytest.param({"SUF_RSQRT_MODE": "sigma_gpu", "rsqrt_iters": "0"}, marks=SLOW),
            {"SUF_RSQRT_MODE": "sigma_gpu", "rsqrt_iters": "1"},
            pytest.param({"SUF_NEXP_MODE": "sigma_gpu"}, marks=SLOW)]   # 65,535 breakpoints: about a minute


def variant_id(knobs) -> str:
    return ",".join(f"{a}={b}" for a, b in knobs.items()) or "snapshot"


@pytest.mark.parametrize("knobs", VARIANTS, ids=variant_id)
def test_two_parties_reconstruct_the_plaintext_run_with_the_simulated_schedule(knobs):
    spec, weights, x, settings = setup(knobs)
    run = run_two_party(spec, weights, x, settings, FIXED, LAYERS, Dealer(b"fixed seed for a test"))
    assert np.array_equal(run.output, plaintext(spec, weights, x, settings, LAYERS))
    schedule = flush_schedule(spec, T, 1, settings, LAYERS)
    assert run.parties[0].schedule == schedule and run.parties[1].schedule == schedule
    assert run.key_bytes[0] == run.key_bytes[1] > 0


@pytest.mark.parametrize(("policy", "chains", "knobs"), [
    ("have_pfss_work", 2, {}),                       # PFSS flushes beside the opens (concurrent records)
    ("pfss_eager", 1, {}),                           # background PFSS flushes
    pytest.param("budget", 1, {"budget_open_words": "64"}, marks=SLOW),   # opens flushed at a size
    pytest.param("suf", 3, {}, marks=SLOW),                               # three staggered chains
], ids=["have_pfss_work-chains2", "pfss_eager", "budget", "chains3"])
def test_every_policy_and_chains_for_real(policy, chains, knobs):
    """The real driver performs whatever flushes the policy decides: both parties' schedules are the simulator's
    for that policy and chain count (which differ from the snapshot's), and the output is still the plaintext's."""
    spec, weights, x, _ = setup(layers=1)
    settings = resolve("suf-gpu-bench", spec, knobs, chains=chains)
    run = run_two_party(spec, weights, x, settings, FIXED, 1, Dealer(b"policy"), policy=policy)
    assert np.array_equal(run.output, plaintext(spec, weights, x, resolve("suf-gpu-bench", spec, {}), 1))
    schedule = flush_schedule(spec, T, 1, settings, 1, policy)
    assert run.parties[0].schedule == run.parties[1].schedule == schedule
    assert schedule != flush_schedule(spec, T, 1, resolve("suf-gpu-bench", spec, {}), 1)
    if policy == "have_pfss_work":
        assert sum(r.concurrent for r in schedule) > sum(
            r.concurrent for r in flush_schedule(spec, T, 1, settings, 1))


@pytest.mark.parametrize("knobs", [{}, {"SUF_CAUSAL_PREFILL": "0"}], ids=["causal prefill", "decode path"])
def test_a_causal_model_for_real(knobs):
    """Ragged softmax rows (causal prefill) and the per-token path with its per-product matmul triples."""
    spec, weights, x, settings = setup(knobs, spec=TINY_GPT2, seq_len=3, layers=1)
    run = run_two_party(spec, weights, x, settings, FIXED, 1, Dealer(b"causal"))
    assert np.array_equal(run.output, plaintext(spec, weights, x, settings, 1))
    assert run.parties[0].schedule == run.parties[1].schedule == flush_schedule(spec, 3, 1, settings, 1)


@pytest.mark.slow
def test_bert_tiny_for_real_on_numpy():
    spec, weights, x, settings = setup(spec=MODELS["bert-tiny"], seq_len=16, layers=2)
    run = run_two_party(spec, weights, x, settings, FIXED, 2)
    assert np.array_equal(run.output, plaintext(spec, weights, x, settings, 2))
    assert run.parties[0].schedule == flush_schedule(spec, 16, 1, settings, 2)


@pytest.mark.slow
def test_bert_base_one_layer_for_real_on_numpy():
    """bert-base's real shapes (D = 768, 12 heads, F = 3072) at T = 2: T = 128 is out of NumPy's reach (GeLU-const's
    258-breakpoint interval key over T F = 393,216 elements), and T only scales the rows of the same tasks."""
    spec, weights, x, settings = setup(spec=MODELS["bert-base"], seq_len=2, layers=1)
    run = run_two_party(spec, weights, x, settings, FIXED, 1)
    assert np.array_equal(run.output, plaintext(spec, weights, x, settings, 1))
    assert run.parties[0].schedule == run.parties[1].schedule == flush_schedule(spec, 2, 1, settings, 1)




# -- tapes and faults ---------------------------------------------------------------------------------------------

def run_one(party, tape, spec, weights, x, settings, exchange, layers=1):
    share = share_input(x, FIXED)[party]
    return run_party(party, spec, weights, share, settings, FIXED, 1, x.shape[1], layers, tape, exchange)


def test_a_tape_for_another_program_is_refused():
    spec, weights, x, settings = setup()
    tapes = deal(spec, weights, resolve("suf-gpu-bench", spec, {"rsqrt_iters": "2"}), FIXED, 1, T, 1, Dealer(b"s"))
    with pytest.raises(TapeError, match=r"party \d's (step|flush) tape entry \d+ is a"):
        run_two_party_with_tapes(spec, weights, x, settings, tapes, layers=1)


def test_a_tape_with_entries_left_is_refused():
    spec, weights, x, settings = setup()
    tapes = deal(spec, weights, settings, FIXED, 1, T, 2, Dealer(b"s"))   # two layers' keys, one layer run
    with pytest.raises(TapeError, match="did not read"):
        run_two_party_with_tapes(spec, weights, x, settings, tapes, layers=1)


def run_two_party_with_tapes(spec, weights, x, settings, tapes, layers):
    import threading
    link, errors = MemoryLink(5), {}

    def party(p):
        try:
            run_one(p, tapes[p], spec, weights, x, settings, link.endpoint(p), layers)
        except BaseException as exc:
            errors[p] = exc
            link.fail(p)

    threads = [threading.Thread(target=party, args=(p,)) for p in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors, "both parties finished: the tapes were expected to be refused"
    raise next(iter(errors.values()))


def test_tapes_through_files_layer_by_layer(tmp_path):
    """The launcher's path in one process: each layer's keys in a file per party, read as the layer starts (the
    next one read ahead) and deleted; the output is the plaintext run's, the schedule the simulator's, and no party
    ever held more than two layers of tape (three layers, so that holding all of them would show)."""
    spec = replace(TINY_BERT, n_layers=3)
    _, weights, x, settings = setup(spec=spec, seq_len=2, layers=3)
    run = run_two_party(spec, weights, x, settings, FIXED, 3, Dealer(b"files"), tape_dir=tmp_path)
    assert np.array_equal(run.output, plaintext(spec, weights, x, settings, 3))
    assert run.parties[0].schedule == run.parties[1].schedule == flush_schedule(spec, 2, 1, settings, 3)
    assert [p.tape_layers_peak for p in run.parties] == [2, 2]
    assert list(tmp_path.iterdir()) == []   # every layer file read once, then deleted


def test_a_tape_that_fits_is_read_whole_before_the_run(tmp_path):
    """``preload``: with room for the whole tape, every layer file is read (and deleted) before the first layer
    starts, and the layers come back in order; without room, nothing is read and the layers stream as before."""
    spec = replace(TINY_BERT, n_layers=3)
    _, weights, _, settings = setup(spec=spec, seq_len=2, layers=3)
    files = deal(spec, weights, settings, FIXED, 1, 2, 3, Dealer(b"preload"), files=TapeFileWriter(tmp_path))[0]
    reader = LayeredReader(files, np)
    assert not reader.preload(files.nbytes - 1) and len(list(tmp_path.glob("party0.*"))) == 3
    assert reader.preload(files.nbytes)
    assert list(tmp_path.glob("party0.*")) == [] and reader.peak_held == 3
    for layer in range(3):
        reader.start_layer(layer)
        assert reader.reader.tape.layer == layer
        reader.reader = None   # this test reads no entries (the reader would refuse a layer not read to its end)
    reader.close()


def test_every_layer_a_reader_loads_goes_through_its_prepare_step(tmp_path):
    """A GPU party's reader puts each layer's interval keys in the kernel's layout as it loads the layer
    (``engine.prepare_keys``), whether the layer was read before the run or ahead of it."""
    spec = replace(TINY_BERT, n_layers=3)
    _, weights, _, settings = setup(spec=spec, seq_len=2, layers=3)
    for preloaded in (True, False):
        (tmp_path / str(preloaded)).mkdir()
        files = deal(spec, weights, settings, FIXED, 1, 2, 3, Dealer(b"prep"),
                     files=TapeFileWriter(tmp_path / str(preloaded)))[0]
        reader = LayeredReader(files, np, engine.prepare_keys)
        assert reader.preload(files.nbytes if preloaded else 0) is preloaded
        for layer in range(3):
            reader.start_layer(layer)
            keys = [e.material for e in reader.reader.tape.streams["flush"] if e.kind == "key"]
            intervals = [k.parts["dcf"] for k in keys if k.kind == "poly"]
            assert intervals and all(isinstance(k, kernels.IntervalKey) for k in intervals), (preloaded, layer)
            reader.reader = None   # no entries read (the reader would refuse a layer not read to its end)
        reader.close()


def test_a_reader_loads_and_prepares_every_layer_inside_its_keys_allocator(tmp_path):
    """``keys_allocator`` (``run --keys-own-pool``): each layer's arrays are made, and its keys prepared, inside the
    context it gives (on CuPy, a memory pool of the keys' own), for a layer read before the run and ahead of it."""
    import contextlib

    spec = replace(TINY_BERT, n_layers=3)
    _, weights, _, settings = setup(spec=spec, seq_len=2, layers=3)
    inside, prepared = [], []

    @contextlib.contextmanager
    def allocator():
        inside.append(True)
        yield
        inside.pop()

    def prepare(tape):
        prepared.append(bool(inside))
        return tape

    for preloaded in (True, False):
        (tmp_path / str(preloaded)).mkdir()
        files = deal(spec, weights, settings, FIXED, 1, 2, 3, Dealer(b"pool"),
                     files=TapeFileWriter(tmp_path / str(preloaded)))[0]
        prepared.clear()
        reader = LayeredReader(files, np, prepare, allocator)
        reader.preload(files.nbytes if preloaded else 0)
        for layer in range(3):
            reader.start_layer(layer)
            reader.reader = None   # no entries read (the reader would refuse a layer not read to its end)
        reader.close()
        assert prepared == [True, True, True] and not inside, preloaded


def test_every_gate_is_built_before_the_clock_starts(tmp_path):
    """A tape names each key's gate with its call site's parameters, and a party's reader builds each gate from them
    as it loads the layer (``twoparty.layer_preparation``), so that no flush pays for making a gate's tables: SIGMA's
    inverse LUT is built for the run's row length (8,193 breakpoints at 128 tokens), which a rehearsal at 2 tokens
    does not meet. Through tape files, as the launcher's parties read them; the gate cache emptied after dealing."""
    import threading

    spec, weights, x, settings = setup({"SUF_INV_MODE": "sigma_gpu", "inv_sigma_muls": "0"}, layers=1)
    files = deal(spec, weights, settings, FIXED, 1, T, 1, Dealer(b"built"), files=TapeFileWriter(tmp_path))
    task_gates.task_gate.cache_clear()
    at_clock = {}
    ready = threading.Barrier(2, action=lambda: at_clock.update(built=task_gates.task_gate.cache_info().misses))
    link, out, shares = MemoryLink(10), {}, share_input(x, FIXED)

    def party(p):
        out[p] = run_party(p, spec, weights, shares[p], settings, FIXED, 1, T, 1, files[p],
                           link.endpoint(p), ready=ready.wait)

    threads = [threading.Thread(target=party, args=(p,)) for p in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert np.array_equal(Ring(FIXED.n_bits).add(out[0].output, out[1].output),
                          plaintext(spec, weights, x, settings, 1))
    assert at_clock["built"] > 0 and task_gates.task_gate.cache_info().misses == at_clock["built"]
    task_gates.for_descriptor(with_params(INV_LUT, in_scale_bits=FIXED.frac_bits, row_len=T), FIXED.n_bits,
                              FIXED.frac_bits, settings.interval_fold)   # the run's inverse LUT: built already
    assert task_gates.task_gate.cache_info().misses == at_clock["built"]


def files_of_two_layers(tmp_path):
    spec, weights, _, settings = setup()
    return deal(spec, weights, settings, FIXED, 1, T, 2, Dealer(b"f"), files=TapeFileWriter(tmp_path))


def one_line(exc) -> str:
    assert "\n" not in str(exc)
    return str(exc)


def test_a_missing_layer_file_is_refused_before_the_run(tmp_path):
    tapes = files_of_two_layers(tmp_path)
    (tmp_path / "party1.layer1.pkl").unlink()
    with pytest.raises(TapeError) as exc:
        LayeredReader(tapes[1], np)
    assert one_line(exc.value).startswith("party 1's tape file for layer 1 is missing: ")
    LayeredReader(tapes[0], np).close()   # negative control: party 0's files are all there


def test_a_cut_or_misplaced_layer_file_is_refused(tmp_path):
    tapes = files_of_two_layers(tmp_path)
    cut = tmp_path / "party0.layer1.pkl"
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    with pytest.raises(TapeError) as exc:
        tapes[0].load(1)
    assert "party 0's tape file for layer 1 is cut short or corrupt" in one_line(exc.value)
    assert not cut.exists()   # whatever was read of it is gone
    (tmp_path / "party1.layer0.pkl").rename(tmp_path / "party1.layer1.pkl")   # layer 0's keys where layer 1's go
    with pytest.raises(TapeError) as exc:
        tapes[1].load(1)
    assert f"holds (1, '{tapes[1].run_id}', 0); this run wants (party, run id, layer) = (1, " in one_line(exc.value)


def test_a_tape_file_gives_back_its_arrays_bit_for_bit_and_other_files_are_refused(tmp_path):
    """The arrays go out of band (each aligned in the file) and come back as views of one buffer: equal, writable,
    of their dtypes and shapes, a strided array's copy included; a pickle of the old kind is not a tape file."""
    rng = np.random.default_rng(7)
    words = rng.integers(0, 1 << 63, 1001, dtype=np.uint64)
    material = {"words": words, "bits": rng.integers(0, 2, (3, 5), dtype=np.uint8), "strided": words[::3],
                "empty": np.zeros(0, dtype=np.uint64), "n": 5}
    tape = Tape(1, "run", layer=2)
    tape.append("flush", TapeEntry("key", "ReLU", 1001, material, words.nbytes))
    write_tape_file(tmp_path / "t", tape)
    assert (tmp_path / "t").stat().st_mode & 0o777 == 0o600
    back = read_tape_file(tmp_path / "t")
    got = back.streams["flush"][0].material
    assert (back.party, back.run_id, back.layer, got["n"]) == (1, "run", 2, 5)
    for name in ("words", "bits", "strided", "empty"):
        assert got[name].dtype == material[name].dtype and np.array_equal(got[name], material[name]), name
    assert got["words"].flags.writeable and got["words"].ctypes.data % 64 == 0
    write_private(tmp_path / "old", tape)
    with pytest.raises(ValueError, match="not a tape file"):
        read_tape_file(tmp_path / "old")


def test_a_cut_layer_file_stops_both_parties(tmp_path):
    spec, weights, x, settings = setup()
    tapes = files_of_two_layers(tmp_path)
    cut = tmp_path / "party1.layer1.pkl"
    cut.write_bytes(cut.read_bytes()[:100])
    with pytest.raises((TapeError, PeerError), match="party 1"):
        run_two_party_with_tapes(spec, weights, x, settings, tapes, layers=2)


def test_a_failing_peer_stops_the_other_party_at_once():
    """Party 1's tape is cut: it fails, and party 0 hears of it at once instead of waiting out its timeout."""
    spec, weights, x, settings = setup()
    tapes = deal(spec, weights, settings, FIXED, 1, T, 1, Dealer(b"s"))
    tapes[1].layers[0].streams["flush"] = tapes[1].layers[0].streams["flush"][:3]
    import time
    start = time.perf_counter()
    with pytest.raises((PeerError, TapeError)):
        run_two_party_with_tapes(spec, weights, x, settings, tapes, layers=1)
    assert time.perf_counter() - start < 5


# -- one party's view ---------------------------------------------------------------------------------------------

def received_by_party0(spec, weights, x, settings):
    """Every value party 0 learns in its opens (its share plus what party 1 sends: x + r_in, or a Beaver product's
    x - a and y - b), for one layer."""
    seen = []
    link = MemoryLink(10)
    inner = link.endpoint(0)
    mask = np.uint64((1 << FIXED.n_bits) - 1)

    def spy(mine):
        theirs = inner(mine)
        seen.append((mine + theirs) & mask)
        return theirs

    import threading
    tapes = deal(spec, weights, settings, FIXED, 1, x.shape[1], 1, Dealer(b"view"))
    shares = share_input(x, FIXED)
    t = threading.Thread(target=run_party, args=(1, spec, weights, shares[1], settings, FIXED, 1, x.shape[1], 1,
                                                 tapes[1], link.endpoint(1)))
    t.start()
    run_party(0, spec, weights, shares[0], settings, FIXED, 1, x.shape[1], 1, tapes[0], spy)
    t.join(30)
    return np.concatenate(seen)


def top_bits_uniform(words: np.ndarray, bits: int = 4) -> bool:
    """Chi-square of the top ``bits`` of 48-bit words against uniform, at p = 0.001."""
    counts = np.bincount((words >> np.uint64(48 - bits)).astype(np.int64), minlength=2**bits)
    expected = words.size / 2**bits
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    return chi2 < 37.7   # 15 degrees of freedom, p = 0.001


def zero_masks(monkeypatch):
    """Plant a dealer that masks with 0: x + r is x, so the opens show the secret."""
    def mask(self, x, gate):
        zero = np.zeros(x.words, dtype=np.uint64)
        self._tape("step", "mask", gate.name, x.words, (zero, zero), 8 * x.words)
        return dp.Masked(x.data, x.scale, x.rows, zero)
    monkeypatch.setattr(dp.DealerContext, "mask", mask)


def test_what_party0_receives_is_uniform_for_a_constant_input(monkeypatch):
    spec, weights, _, settings = setup()
    zero = np.zeros((1, T, spec.d_model))
    assert top_bits_uniform(received_by_party0(spec, weights, zero, settings))
    zero_masks(monkeypatch)
    assert not top_bits_uniform(received_by_party0(spec, weights, zero, settings))


def same_distribution(a: np.ndarray, b: np.ndarray) -> bool:
    """Two-sample Kolmogorov-Smirnov test of the words' magnitudes log2(w + 1), at alpha = 0.001."""
    la, lb = (np.sort(np.log2(w.astype(np.float64) + 1)) for w in (a, b))
    grid = np.concatenate([la, lb])
    gap = np.abs(np.searchsorted(la, grid, side="right") / la.size - np.searchsorted(lb, grid, side="right") / lb.size)
    return float(gap.max()) < 1.949 * np.sqrt((la.size + lb.size) / (la.size * lb.size))


def test_party0_cannot_tell_two_secrets_apart(monkeypatch):
    """Party 0's view for two different secrets (constant rows, whose LayerNorm output is 0, and random rows): the
    same distribution. Its tape cannot differ: the dealer pass never sees an input."""
    spec, weights, _, settings = setup()
    constant = np.full((1, T, spec.d_model), 0.5)
    varied = np.random.default_rng(7).normal(0, 1, (1, T, spec.d_model))
    assert same_distribution(received_by_party0(spec, weights, constant, settings),
                             received_by_party0(spec, weights, varied, settings))
    zero_masks(monkeypatch)
    assert not same_distribution(received_by_party0(spec, weights, constant, settings),
                                 received_by_party0(spec, weights, varied, settings))


def masks_of(tapes):
    """The dealer's masks r = r0 + r1 of every mask entry, in order."""
    ring_mask = np.uint64((1 << FIXED.n_bits) - 1)
    return [(a.material + b.material) & ring_mask
            for a, b in zip(tapes[0].layers[0].streams["step"], tapes[1].layers[0].streams["step"], strict=True)
            if a.kind == "mask"]


def test_masks_are_fresh_per_element_and_per_gate(monkeypatch):
    spec, weights, _, settings = setup()
    masks = np.concatenate(masks_of(deal(spec, weights, settings, FIXED, 1, T, 1, Dealer(b"m"))))
    assert np.unique(masks).size == masks.size     # 48-bit uniform words: a repeat is a reused mask
    # negative control: one mask per job (SUF's shortcut) repeats each job's mask over its elements
    real_mask = dp.DealerContext.mask

    def one_mask_per_job(self, x, gate):
        out = real_mask(self, x, gate)
        entry = (self.tapes[0].streams["step"][-1], self.tapes[1].streams["step"][-1])
        for e in entry:
            e.material = np.full_like(e.material, e.material[0])
        return out
    monkeypatch.setattr(dp.DealerContext, "mask", one_mask_per_job)
    masks = np.concatenate(masks_of(deal(spec, weights, settings, FIXED, 1, T, 1, Dealer(b"m"))))
    assert np.unique(masks).size < masks.size


def test_party0_mask_shares_do_not_follow_the_masks(monkeypatch):
    """Party 0's share r0 of each mask is uniform and independent of r: their low bits agree half the time."""
    spec, weights, _, settings = setup()

    def agreement(tapes):
        r = np.concatenate(masks_of(tapes))
        r0 = np.concatenate([e.material for e in tapes[0].layers[0].streams["step"] if e.kind == "mask"])
        return float(((r ^ r0) & np.uint64(1) == 0).mean()), r.size

    share, n = agreement(deal(spec, weights, settings, FIXED, 1, T, 1, Dealer(b"c")))
    assert abs(share - 0.5) < 4 / np.sqrt(n)
    # negative control: a dealer that hands party 0 the mask itself (and party 1 zero)
    real_share = Dealer.share
    monkeypatch.setattr(Dealer, "share", lambda self, v, ring, stream: (v.copy(), np.zeros_like(v))
                        if v.ndim == 1 and v.dtype == np.uint64 else real_share(self, v, ring, stream))
    share, n = agreement(deal(spec, weights, settings, FIXED, 1, T, 1, Dealer(b"c")))
    assert abs(share - 0.5) > 4 / np.sqrt(n)


@pytest.mark.gpu
@pytest.mark.parametrize("knobs", [{}, {"SUF_NEXP_MODE": "sigma_gpu"}], ids=["snapshot", "nExp LUT"])
def test_two_parties_on_the_gpu_reconstruct_the_plaintext_run(knobs):
    """On CuPy too, and with nExp's LUT pair: 65,536 intervals in one interval key, too slow for NumPy's walk."""
    import cupy
    spec, weights, x, settings = setup(knobs)
    run = run_two_party(spec, weights, x, settings, FIXED, LAYERS, Dealer(b"gpu", use_gpu=True), xp=cupy)
    assert np.array_equal(cupy.asnumpy(run.output), plaintext(spec, weights, x, settings, LAYERS))
    assert run.parties[0].schedule == flush_schedule(spec, T, 1, settings, LAYERS)


def test_a_rehearsal_runs_its_own_keys_and_leaves_the_real_tape_whole():
    """A fresh GPU process's rehearsal before the clock: one short layer on keys of its own; not a word of the real
    tape is spent."""
    spec, weights, _, settings = setup(spec=TINY_GPT2)   # causal: ragged rows at the rehearsal's 2 tokens
    tapes = deal(spec, weights, settings, FIXED, 1, T, LAYERS, Dealer(b"rehearsal"))
    before = tapes[0].nbytes
    assert rehearse(0, spec, weights, settings, FIXED, 1, np) > 0
    assert rehearse(0, spec, weights, settings, FIXED, 1, np, seq_len=T, keys_own_pool=True) > 0   # at the run's length
    assert tapes[0].nbytes == before
