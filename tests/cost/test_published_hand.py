"""The published-measurement model (cost/published.py) by hand: where members are placed, what
one iteration of a member costs before contention, a lone issuer's metrics, Ye 2020's record
predicted with round figures and its error worked out on paper, and the per-role summary.

Figures (``data/anchor-round.toml``, changed per test where said): clock 1 GHz, 4 cores on one
socket, tlbi_local 100, dvm_op 500, dvm_sync 1000, ic_iallu 300, trap_roundtrip 1000,
dvm_socket_factor 1 (a broadcast over ``s`` sockets takes ``1 + 1·(s - 1) = s`` times as long).
A lone issuer never queues at the Sync server (``cost/dvm.py``: for one member the residence is
the Sync's service), so its iteration is work + issue + Syncs × service.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from vtlbsim.cost.experiment import (
    Actor,
    Experiment,
    ExperimentError,
    experiment_from_text,
    load_experiment,
)
from vtlbsim.cost.platform import Platform, load_platform
from vtlbsim.cost.published import (
    RoleSummary,
    Row,
    _member,
    _placement,
    predict_experiment,
    predict_run,
    record_dir,
    record_files,
    summarise,
)

ROUND = str(Path(__file__).parent / "data" / "anchor-round.toml")


def _plat(**update: object) -> Platform:
    return load_platform(ROUND).model_copy(update=update)


def _exp(actors: str, runs: str = '[[runs]]\nname = "r"\n', platform: str = ROUND) -> Experiment:
    text = f'name = "e"\nsource = "t"\nplatform = "{platform}"\nrole = "validate"\n'
    return experiment_from_text(text + actors + runs, "e.toml")


def _actors(*specs: tuple[str, int, str, str]) -> str:
    """(name, count, cpus, ops as TOML) → [[actors]] tables."""
    return "".join(
        f'[[actors]]\nname = "{n}"\ncount = {c}\ncpus = "{cpus}"\nops = {ops}\n'
        for n, c, cpus, ops in specs
    )


def test_placement_spread_packed_socket_and_sharing() -> None:
    """8 cores on 2 sockets (0-3, 4-7). ``spread`` A×3 alternates sockets from its member's
    index: 0, 4, then 1; ``packed`` B×2 takes the lowest free cores: 2, 3; ``socket:1`` C×2:
    5, 6; ``same-socket`` D×3 takes 7, then no core is free: the least loaded, lowest
    numbered core, 0, then 1 (0 now carries two)."""
    exp = _exp(
        _actors(
            ("a", 3, "spread", "[]"),
            ("b", 2, "packed", "[]"),
            ("c", 2, "socket:1", "[]"),
            ("d", 3, "same-socket", "[]"),
        ),
        '[[runs]]\nname = "r"\nplatform_set = { cores = 8, sockets = 2 }\n',
    )
    plat = _plat(cores=8, sockets=2)
    assert _placement(plat, exp.actors) == [[0, 4, 1], [2, 3], [5, 6], [7, 0, 1]]


def test_placement_of_a_spread_actor_on_an_uneven_machine() -> None:
    """6 cores on 4 sockets: 2 per socket, so sockets 0-1, 2-3, 4-5 and an empty fourth.
    ``spread`` ×5: socket 0 → 0, socket 1 → 2, socket 2 → 4, socket 3 has no core: the first
    free core in order from socket 3, i.e. 1 (socket 0); then socket 0 is full: 3."""
    exp = _exp(_actors(("a", 5, "spread", "[]")))
    assert _placement(_plat(cores=6, sockets=4), exp.actors) == [[0, 2, 4, 1, 3]]


def test_one_iteration_of_bare_metal_maintenance() -> None:
    """2 sockets, system scope: every broadcast spans 2 sockets, 2× the operation (1000).
    ops 2×vae1is, dsb, vmalle1is, vae1, ialluis, work 50 ns:
    issue = 2×1000 (vae1is) + 1000 (vmalle1is) + 100 (local vae1) + 1000 + (300 - 100)
    (ialluis: a broadcast, plus a whole I-cache invalidate beyond a TLBI) = 4300;
    Syncs: the explicit dsb (after broadcasts) and the closing one = 2; DVM messages reaching
    every core: 4 broadcasts + 2 Syncs = 6, none VM-filtered; span 2; work 50 × 1 GHz = 50.
    Under socket scope the broadcasts stay on one socket (factor 1): 2300, span 1."""
    exp = _exp(
        _actors(("a", 1, "spread", '["2*vae1is", "dsb", "vmalle1is", "vae1", "ialluis"]')).replace(
            'cpus = "spread"', 'cpus = "spread"\nwork_ns = 50'
        )
    )
    m = _member(_plat(cores=8, sockets=2), exp.actors[0], 1)
    assert (m.work, m.issue, m.syncs, m.msgs_all, m.msgs_vm, m.span) == (50, 4300, 2, 6, 0, 2)
    m = _member(_plat(cores=8, sockets=2, dvm_scope="socket"), exp.actors[0], 1)
    assert (m.issue, m.syncs, m.msgs_all, m.span) == (2300, 2, 6, 1)


def test_a_dsb_with_no_broadcast_before_it_is_no_sync() -> None:
    """ops vae1, dsb, vae1: two local TLBIs (200), no broadcast, so neither DSB is a Sync."""
    exp = _exp(_actors(("a", 1, "spread", '["vae1", "dsb", "vae1"]')))
    m = _member(_plat(), exp.actors[0], 1)
    assert (m.issue, m.syncs, m.msgs_all, m.msgs_vm) == (200, 0, 0, 0)


GUEST = '\nguest = {{ kind = "linux-arm64-smp", policy = "{policy}", vcpus = 2 }}\n'


def _guest_actor(policy: str, ops: str) -> Actor:
    actors = _actors(("g", 2, "packed", ops)).rstrip("\n") + GUEST.format(policy=policy)
    return _exp(actors).actors[0]


def test_a_guest_s_instructions_pass_through_its_policy() -> None:
    """One socket. ``none``: a local vae1 stays local (100, no Sync). ``fb``: FB upgrades it to
    vae1is, a broadcast (500) closed by a Sync. ``trap-ttlb``: the TLBI traps (round trip
    1000) and is emulated as vae1is (500): 1500 and a Sync."""
    plat = _plat()
    m = _member(plat, _guest_actor("none", '["vae1"]'), 1)
    assert (m.issue, m.syncs, m.msgs_all) == (100, 0, 0)
    m = _member(plat, _guest_actor("fb", '["vae1"]'), 1)
    assert (m.issue, m.syncs, m.msgs_all) == (500, 1, 2)
    m = _member(plat, _guest_actor("trap-ttlb", '["vae1"]'), 1)
    assert (m.issue, m.syncs, m.msgs_all) == (1500, 1, 2)


def test_a_snoop_filter_keeps_a_guest_s_tlb_broadcasts_in_its_vm() -> None:
    """2 sockets, filtered scope, a guest whose VM sits on 1 socket: its vae1is is filtered
    (a TLB instruction), spans the VM's one socket (500) and, with its Sync, reaches only the
    VM's cores (2 VM messages); an ialluis is not filterable: it spans both sockets (2 × 500 +
    (300 - 100) = 1200) and makes its Sync reach every core too (2 messages to all). The
    member spans the VM's socket only when nothing reaches every core."""
    plat = _plat(cores=8, sockets=2, dvm_scope="filtered")
    m = _member(plat, _guest_actor("none", '["vae1is"]'), 1)
    assert (m.issue, m.syncs, m.msgs_all, m.msgs_vm, m.span) == (500, 1, 0, 2, 1)
    m = _member(plat, _guest_actor("none", '["vae1is", "dsb", "ialluis"]'), 1)
    assert (m.issue, m.syncs, m.msgs_all, m.msgs_vm, m.span) == (1700, 2, 2, 2, 2)
    m = _member(plat, _guest_actor("none", '["vae1is"]'), 2)
    assert (m.issue, m.span) == (1000, 2)


def test_a_lone_issuer_s_metrics() -> None:
    """One member, work 100 ns, one vae1is: T = 100 + 500 + 1000 = 1600 cycles = 1600 ns at
    1 GHz; throughput 1e9 / 1600 = 625,000 per second (the only member's too); maintenance
    share (500 + 1000) / 1600 = 0.9375. An actor with no members has no metrics."""
    exp = _exp(
        _actors(("a", 1, "spread", '["vae1is"]'), ("idle", 0, "spread", "[]")).replace(
            'cpus = "spread"\nops = ["vae1is"]', 'cpus = "spread"\nwork_ns = 100\nops = ["vae1is"]'
        )
    )
    got = predict_run(exp, exp.runs[0])
    a = got["a"]
    assert a is not None and got["idle"] is None
    assert a.iteration_ns == pytest.approx(1600.0)
    assert a.throughput == pytest.approx(625_000.0)
    assert a.throughput_per_member == pytest.approx(625_000.0)
    assert a.maintenance_share == pytest.approx(0.9375)
    assert a.get("maintenance_share") == a.maintenance_share


def _ye_figures(plat: Platform) -> Platform:
    return plat.model_copy(
        update={
            "clock_ghz": 2.0,
            "cores": 96,
            "sockets": 2,
            "tlbi_local_cycles": 100.0,
            "dvm_op_cycles": 500.0,
            "dvm_sync_cycles": 1000.0,
            "dvm_socket_factor": 0.5,
            "dvm_scope": "system",
        }
    )


def test_ye_2020_predicted_on_paper() -> None:
    """Ye 2020 (``data/published/ye-2020-flush-tlb-range.toml``): one initiator on core 0 of a
    2-socket, 96-core machine issuing N × vae1is and a DSB per call; measured 1457, 2827, 8427,
    30890, 120826 ns for N = 1, 4, 16, 64, 256 and 1508 ns for one aside1is. With round
    figures (2 GHz, op 500, Sync 1000, socket factor 0.5): each broadcast spans both sockets,
    ×1.5, so op 750 and Sync 1500 cycles; a call is N × 750 + 1500 cycles:
    N=1: 2250 cycles = 1125 ns, error 1457 / 1125 = 1.29511;
    N=4: 4500 = 2250 ns, 2827 / 2250 = 1.25644; N=16: 13500 = 6750 ns, 8427 / 6750 = 1.24844;
    N=64: 49500 = 24750 ns, 30890 / 24750 = 1.24808; N=256: 193500 = 96750 ns,
    120826 / 96750 = 1.24885; aside1is: 1125 ns, 1508 / 1125 = 1.34044."""
    exp = load_experiment(record_dir() / "ye-2020-flush-tlb-range.toml")
    rows = predict_experiment(exp, _ye_figures)
    assert [(r.run, r.metric, r.actor, r.measured, r.role) for r in rows] == [
        ("1-page", "iteration_ns", "initiator", 1457, "calibrate"),
        ("4-pages", "iteration_ns", "initiator", 2827, "calibrate"),
        ("16-pages", "iteration_ns", "initiator", 8427, "calibrate"),
        ("64-pages", "iteration_ns", "initiator", 30890, "calibrate"),
        ("256-pages", "iteration_ns", "initiator", 120826, "calibrate"),
        ("512-pages-falls-back-to-asid", "iteration_ns", "initiator", 1508, "calibrate"),
    ]
    predicted = [1125.0, 2250.0, 6750.0, 24750.0, 96750.0, 1125.0]
    errors = [1.29511, 1.25644, 1.24844, 1.24808, 1.24885, 1.34044]
    for r, p, e in zip(rows, predicted, errors, strict=True):
        assert r.predicted == pytest.approx(p)
        assert r.error == pytest.approx(e, abs=5e-6)
        assert r.ratio == pytest.approx(1 / e, abs=5e-6)


def test_a_relative_metric_and_an_unmeasured_run() -> None:
    """A lone vae1is issuer (work 0): 1500 ns per iteration; with 3 vae1is: 3 × 500 + 1000 =
    2500 ns, reported relative to the first: 2500 / 1500 = 5/3, against a measured 2.0, error
    1.2. The unmeasured first run reports its first busy actor's iteration_ns (1500)."""
    runs = (
        '[[runs]]\nname = "one"\n'
        '[[runs]]\nname = "three"\nset = { "a.ops" = ["3*vae1is"] }\n'
        'measured = { metric = "iteration_ns", actor = "a", value = 2.0, relative_to = "one" }\n'
    )
    exp = _exp(_actors(("idle", 0, "spread", "[]"), ("a", 1, "spread", '["vae1is"]')), runs)
    one, three = predict_experiment(exp)
    assert one == Row("e", "one", "validate", "iteration_ns", "a", None, pytest.approx(1500.0))
    assert one.ratio is None and one.error is None
    assert three.relative_to == "one" and three.measured == 2.0
    assert three.predicted == pytest.approx(5 / 3)
    assert three.error == pytest.approx(1.2)


def test_a_measured_actor_without_members_is_an_error() -> None:
    runs = '[[runs]]\nname = "r"\nmeasured = { metric = "throughput", actor = "idle", value = 1 }\n'
    exp = _exp(_actors(("idle", 0, "spread", "[]"), ("a", 1, "spread", "[]")), runs)
    with pytest.raises(ExperimentError) as exc:
        predict_experiment(exp)
    assert str(exc.value) == "e.toml: runs: r: actor 'idle' has no members"
    runs = (
        '[[runs]]\nname = "none"\nset = { "a.count" = 0 }\n'
        '[[runs]]\nname = "r"\n'
        'measured = { metric = "throughput", actor = "a", value = 1, relative_to = "none" }\n'
    )
    exp = _exp(_actors(("a", 1, "spread", "[]")), runs)
    with pytest.raises(ExperimentError) as exc:
        predict_experiment(exp)
    assert str(exc.value) == "e.toml: runs: none: actor 'a' has no members"


def test_an_unmeasured_run_with_nobody_busy() -> None:
    """No actor has members: the row names the first actor and predicts NaN."""
    exp = _exp(_actors(("x", 0, "spread", "[]"), ("y", 0, "spread", "[]")))
    (row,) = predict_experiment(exp)
    assert row.actor == "x" and math.isnan(row.predicted) and row.measured is None


def _row(exp: str, run: str, role: str, measured: float | None, predicted: float) -> Row:
    return Row(exp, run, role, "iteration_ns", "a", measured, predicted)


ROWS = [
    _row("e2", "r1", "validate", 10.0, 80.0),  # error 8
    _row("e2", "r2", "validate", None, 5.0),  # unmeasured: left out
    _row("e1", "r1", "calibrate", 100.0, 200.0),  # error 2
    _row("e1", "r2", "calibrate", 100.0, 25.0),  # error 4
    _row("e3", "r1", "calibrate", 100.0, 100.0),  # error 1
]


def test_summary_per_role() -> None:
    """calibrate: errors 2, 4, 1 → geometric mean (8)^(1/3) = 2, worst 4 (e1/r2); validate:
    one run, 8. Calibrate comes first whatever the rows' order."""
    cal, val = summarise(ROWS)
    assert cal == RoleSummary("calibrate", 3, pytest.approx(2.0), 4.0, "e1/r2")
    assert val == RoleSummary("validate", 1, pytest.approx(8.0), 8.0, "e2/r1")
    assert summarise([r for r in ROWS if r.role == "validate"]) == [val]
    assert summarise([]) == []


def test_summary_per_experiment() -> None:
    """In the rows' order, each named "ROLE EXPERIMENT": e2 (8), e1 (errors 2 and 4: sqrt(8)
    = 2.828, worst 4), e3 (1)."""
    assert summarise(ROWS, by="experiment") == [
        RoleSummary("validate e2", 1, pytest.approx(8.0), 8.0, "e2/r1"),
        RoleSummary("calibrate e1", 2, pytest.approx(math.sqrt(8)), 4.0, "e1/r2"),
        RoleSummary("calibrate e3", 1, pytest.approx(1.0), 1.0, "e3/r1"),
    ]


def test_row_json_and_error_both_ways() -> None:
    """Predicted 25 for 100: ratio 0.25, error 4; predicted 200: ratio 2, error 2."""
    r = Row("e", "r", "validate", "throughput", "a", 100.0, 25.0, "base")
    assert (r.ratio, r.error) == (0.25, 4.0)
    assert (_row("e", "r", "v", 100.0, 200.0).ratio, _row("e", "r", "v", 100.0, 200.0).error) == (
        2.0,
        2.0,
    )
    assert r.as_json() == {
        "experiment": "e",
        "run": "r",
        "role": "validate",
        "metric": "throughput",
        "actor": "a",
        "relative_to": "base",
        "measured": 100.0,
        "predicted": 25.0,
        "ratio": 0.25,
    }


def test_record_files_from_files_and_directories(tmp_path: Path) -> None:
    """A directory gives its ``*.toml`` sorted, a file itself; nothing: the shipped record."""
    (tmp_path / "b.toml").write_text("")
    (tmp_path / "a.toml").write_text("")
    (tmp_path / "notes.txt").write_text("")
    one = tmp_path / "one.toml"
    assert record_files([tmp_path, one]) == [tmp_path / "a.toml", tmp_path / "b.toml", one]
    shipped = record_files()
    assert shipped == sorted(record_dir().glob("*.toml")) and len(shipped) >= 7


def _with_work(actors: str, name: str, work: int) -> str:
    return actors.replace(f'name = "{name}"\n', f'name = "{name}"\nwork_ns = {work}\n', 1)


def test_two_issuers_queue_at_the_sync_server() -> None:
    """Two members issuing one vae1is each (work 0): think time Z = 500, Sync service D = 1000;
    with N = 2 the residence solves R^2 + (Z - N D) R - D Z = 0, R^2 - 1500 R - 500,000 = 0, R =
    (1500 + sqrt(4,250,000)) / 2 = (1500 + 2061.5528) / 2 = 1780.7764; an iteration is 500 +
    1780.7764 = 2280.7764 ns (their stalls stretch only work, and there is none); throughput
    2 × 1e9 / 2280.7764 = 876,894.4 per second; all of it maintenance (share 1)."""
    exp = _exp(_actors(("a", 2, "packed", '["vae1is"]')))
    a = predict_run(exp, exp.runs[0])["a"]
    assert a is not None
    assert a.iteration_ns == pytest.approx(2280.7764, rel=1e-6)
    assert a.throughput == pytest.approx(876_894.4, rel=1e-6)
    assert a.throughput_per_member == pytest.approx(438_447.2, rel=1e-6)
    assert a.maintenance_share == pytest.approx(1.0)


def test_a_bystander_loses_what_the_issuer_s_messages_cost_it() -> None:
    """A lone issuer (one vae1is, work 0: 1500 ns an iteration, Sync alone) and two bystanders
    (work 1000 ns, nothing to issue) on one socket, system scope: each bystander receives the
    issuer's operation and Sync, 2 messages per 1500 ns at 10 cycles each, a stall share f =
    10 × 2 / 1500 = 1/75, so its iteration is 1000 / (1 - 1/75) = 1013.5135 ns; its throughput
    1e9 / 1013.5135 = 986,666.7 per second, 1,973,333.3 for the two; no maintenance of its
    own (share 0). The issuer receives nothing (bystanders issue nothing): still 1500."""
    actors = _with_work(
        _actors(("i", 1, "packed", '["vae1is"]'), ("b", 2, "packed", "[]")), "b", 1000
    )
    got = predict_run(_exp(actors), _exp(actors).runs[0])
    i, b = got["i"], got["b"]
    assert i is not None and b is not None
    assert i.iteration_ns == pytest.approx(1500.0, rel=1e-6)
    assert b.iteration_ns == pytest.approx(1013.5135, rel=1e-6)
    assert b.throughput == pytest.approx(1_973_333.3, rel=1e-6)
    assert b.throughput_per_member == pytest.approx(986_666.7, rel=1e-6)
    assert b.maintenance_share == 0.0


def test_under_socket_scope_another_socket_hears_nothing() -> None:
    """The same on 2 sockets of 4 cores under socket scope, the bystanders on socket 1: the
    issuer's broadcasts stay on socket 0, so they run at their work's pace, 1000 ns; under
    system scope they would lose 1/75 as above (the issuer's broadcast then spans 2 sockets:
    op 1000 and Sync 2000, an iteration of 3000 ns, f = 10 × 2 / 3000 = 1/150, 1000 / (1 -
    1/150) = 1006.7114 ns)."""
    actors = _with_work(
        _actors(("i", 1, "socket:0", '["vae1is"]'), ("b", 2, "socket:1", "[]")), "b", 1000
    )
    two = '[[runs]]\nname = "r"\nplatform_set = { cores = 8, sockets = 2, dvm_scope = "DVM" }\n'
    exp = _exp(actors, two.replace("DVM", "socket"))
    b = predict_run(exp, exp.runs[0])["b"]
    assert b is not None and b.iteration_ns == pytest.approx(1000.0)
    exp = _exp(actors, two.replace("DVM", "system"))
    got = predict_run(exp, exp.runs[0])
    assert got["i"] is not None and got["i"].iteration_ns == pytest.approx(3000.0, rel=1e-6)
    assert got["b"] is not None and got["b"].iteration_ns == pytest.approx(1006.7114, rel=1e-6)


def test_members_sharing_a_core_share_its_time() -> None:
    """5 members packed on 4 cores (work 1000 ns, nothing to issue): core 0 carries members 0
    and 4, each at half speed (2000 ns), the other three 1000 ns; mean iteration (2 × 2000 + 3 ×
    1000) / 5 = 1400 ns; throughput 2 × 1e9/2000 + 3 × 1e9/1000 = 4,000,000 per second, 800,000
    per member."""
    exp = _exp(_with_work(_actors(("a", 5, "packed", "[]")), "a", 1000))
    a = predict_run(exp, exp.runs[0])["a"]
    assert a is not None
    assert a.iteration_ns == pytest.approx(1400.0)
    assert a.throughput == pytest.approx(4_000_000.0)
    assert a.throughput_per_member == pytest.approx(800_000.0)


def test_placement_details() -> None:
    """2 sockets of 4: ``socket:1`` ×2 on an empty machine takes 4 and 5 (not the free cores of
    socket 0); ``socket:0`` ×5 fills 0-3 and then shares core 0 (never a core of socket 1).
    3 sockets of 2 (0-1, 2-3, 4-5), socket 1 taken by a ``socket:1`` pair: ``spread`` ×2 takes
    0 (its order 0, 1, 2), then, with socket 1 full, the next socket in its order 1, 2, 0: 4
    (not the lowest free core, 1)."""
    two = '[[runs]]\nname = "r"\nplatform_set = { cores = 8, sockets = 2 }\n'
    exp = _exp(_actors(("s1", 2, "socket:1", "[]"), ("s0", 5, "socket:0", "[]")), two)
    assert _placement(_plat(cores=8, sockets=2), exp.actors) == [[4, 5], [0, 1, 2, 3, 0]]
    three = '[[runs]]\nname = "r"\nplatform_set = { cores = 6, sockets = 3 }\n'
    exp = _exp(_actors(("s1", 2, "socket:1", "[]"), ("sp", 2, "spread", "[]")), three)
    assert _placement(_plat(cores=6, sockets=3), exp.actors) == [[2, 3], [0, 4]]


def test_a_pinned_guest_under_hafnium_has_no_fb() -> None:
    """A guest actor is a pinned vCPU: Hafnium sets FB only for vCPUs that may migrate, so its
    local vae1 stays local (100, no Sync); under fb it is a broadcast (500)."""
    plat = _plat()
    m = _member(plat, _guest_actor("hafnium", '["vae1"]'), 1)
    assert (m.issue, m.syncs, m.msgs_all) == (100, 0, 0)


def test_a_trap_adds_its_round_trip_to_what_came_before() -> None:
    """trap-ttlb, ops ialluis, vae1, vae1: the ialluis (not a TLB instruction: no trap) is a
    broadcast plus its I-cache work, 500 + (300 - 100) = 700; each vae1 traps (+1000) and is
    emulated as vae1is (+500): 700 + 2 × 1500 = 3700, one Sync at the end (4 messages)."""
    m = _member(_plat(), _guest_actor("trap-ttlb", '["ialluis", "2*vae1"]'), 1)
    assert (m.issue, m.syncs, m.msgs_all) == (3700, 1, 4)


def test_an_aarch32_bpiall_under_fb_follows_the_platform_s_reading() -> None:
    """An arm32 guest's BPIALL under fb: anchor-round reads HCR_EL2.FB as upgrading it
    (``bpiall_fb_upgrade = true``): a broadcast, 500 and a Sync; a platform with the
    pseudocode's reading leaves it local: 100."""
    actor = _exp(
        _actors(("g", 1, "packed", '["bpiall"]')).rstrip("\n")
        + '\nguest = { kind = "linux-arm32-up", policy = "fb", vcpus = 1 }\n'
    ).actors[0]
    m = _member(_plat(), actor, 1)
    assert (m.issue, m.syncs) == (500, 1)
    m = _member(_plat(bpiall_fb_upgrade=False), actor, 1)
    assert (m.issue, m.syncs) == (100, 0)


def test_filtered_messages_are_counted_per_broadcast_and_per_sync() -> None:
    """Filtered scope, a guest on one socket: ops 2×vae1is, dsb, vae1is: three filtered
    broadcasts and two Syncs (the dsb's and the closing one), each reaching only the VM:
    5 VM messages, none to every core."""
    plat = _plat(cores=8, sockets=2, dvm_scope="filtered")
    m = _member(plat, _guest_actor("none", '["2*vae1is", "dsb", "vae1is"]'), 1)
    assert (m.issue, m.syncs, m.msgs_all, m.msgs_vm) == (1500, 2, 0, 5)
