"""Exact mode's anchors for how a run is built from its workload (issue 15 item 6, from
``exact.py``'s mutation survivors in ``_StepPlan``, ``_group`` and ``evaluate_exact``): domain
groups with their own traces, and what they share. The figures, trace and helpers are
``test_exact_anchors.py``'s (anchor-round: tlbi_local 100, ic_iallu 300, walk_2stage 200,
icache_line_refill 20; a 10 ms timeslice of 1 ms steps, 200 uncharged warm-up steps and 100
charged ones; flush-on-switch's TLBI VMALLS12E1 + IC IALLU at each load); every expected value
is derived in the docstring."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_exact_anchors import (
    ALLE1IS_AT_LOAD,
    PLATFORM,
    REFS,
    SHORT_SLICE_MS,
    TRACE,
    _fresh_dvm_solutions,
    exact,
    kind_file,
    only,
)

from vtlbsim.cost.exact import evaluate_exact
from vtlbsim.cost.workload import DomainGroup, SchedulerSpec, Workload

__all__ = ["_fresh_dvm_solutions"]  # the autouse fixture: each run solves its own DVM steps

THREE_REFS = TRACE + " L 00030000,8\n"
"""The two-reference trace and a load of page 48: three pages, so three walks after a flush."""


def pinned(tmp_path: Path, domains: list[DomainGroup], timeslice_ms: float = 10.0) -> Workload:
    """0.1 s of ``domains`` pinned on anchor-round (names relative to ``tmp_path``)."""
    return Workload(
        platform=PLATFORM,
        duration_s=0.1,
        scheduler=SchedulerSpec(kind="pinned", timeslice_ms=timeslice_ms),  # type: ignore[arg-type]
        domains=domains,
        base_dir=str(tmp_path),
    )


def test_two_domain_groups_each_run_their_own_trace(tmp_path: Path) -> None:
    """Two one-vCPU VMs pinned on one pCPU, each its own domain group: VM 1 reads the
    two-reference trace (pages 16 and 32), VM 2 a three-reference one (pages 16, 32, 48).
    flush-on-switch: the VMs take turns, one load per timeslice end; the 10 loads whose refills
    are counted (steps -1, 9, ..., 89) alternate between the VMs, 5 each. After each the
    incoming VM walks every page of its own trace and misses its one I-cache line:
    walks:hyp-load = 5 x 2 + 5 x 3 = 25 (tlb-refill 5,000), I-cache misses 10 (icache-refill
    200); hyp-flush = 10 charged loads x (100 + 300) = 4,000."""
    kind = kind_file(tmp_path, "aarch64", {}, {})
    (tmp_path / "two.lackey").write_text(TRACE)
    (tmp_path / "three.lackey").write_text(THREE_REFS)
    domains = [
        DomainGroup(kind=kind, count=1, vcpus=1, trace=t) for t in ("two.lackey", "three.lackey")
    ]
    w = pinned(tmp_path, domains)
    res = evaluate_exact(w, "flush-on-switch", 1, 1, None, refs_per_vcpu_s=REFS)
    assert res.events["vcpu-loads"] == 10.0
    assert res.events["walks:hyp-load"] == 25.0
    assert res.events["icache-misses:hyp-load"] == 10.0
    only(res, hyp_flush=4_000.0, tlb_refill=5_000.0, icache_refill=200.0)


def test_a_one_reference_trace_wraps_at_every_reference(tmp_path: Path) -> None:
    """A trace of one instruction fetch (page 16, one I-cache line): each step's 100 references
    wrap around the one-reference stream 100 times. flush-on-switch, two one-vCPU VMs pinned on
    one pCPU, 10 counted loads: after each, the incoming vCPU walks once (its one page) and
    misses its one line: walks:hyp-load = 10 (tlb-refill 2,000), icache-refill 10 x 20 = 200;
    hyp-flush = 10 x 400 = 4,000; 100 references a step, 1e4 in the 0.1 s."""
    kind = kind_file(tmp_path, "aarch64", {}, {})
    (tmp_path / "one.lackey").write_text("I  00010000,4\n")
    w = pinned(tmp_path, [DomainGroup(kind=kind, count=2, vcpus=1, trace="one.lackey")])
    res = evaluate_exact(w, "flush-on-switch", 1, 1, None, refs_per_vcpu_s=REFS)
    assert res.events["references"] == 1e4
    assert res.events["walks:hyp-load"] == 10.0
    assert res.events["icache-misses:hyp-load"] == 10.0
    only(res, hyp_flush=4_000.0, tlb_refill=2_000.0, icache_refill=200.0)


def test_a_vcpu_runs_on_a_pcpu_after_an_idle_one(tmp_path: Path) -> None:
    """One vCPU under random-migrate on two pCPUs (200 moves per second, about 20 in 0.1 s): it
    spends part of the run on pCPU 1 while pCPU 0 is idle, and runs its 100 references in every
    step wherever it is: 1e4 references in the 0.1 s, 0.1 running vCPU-seconds."""
    res = exact(tmp_path, "none", pcpus=2, vms=1, sched="random-migrate", migrations=200.0)
    assert res.events["migrations"] > 5
    assert res.events["references"] == 1e4
    assert res.events["running-vcpu-s"] == 0.1


def test_an_instruction_at_one_per_second_is_issued(tmp_path: Path) -> None:
    """Sixteen one-vCPU VMs on sixteen pCPUs for 1 s, the guest's TLBI VALE1 at 1 per running
    vCPU-second: a Poisson(16) number of them (P(none) = e^-16), none charged (no policy)."""
    res = exact(
        tmp_path,
        "none",
        pcpus=16,
        vms=16,
        ops={"pte_user": "vale1"},
        rates={"pte_changes_per_s": 1.0},
        duration_s=1.0,
        timeslice_ms=SHORT_SLICE_MS,
    )
    assert 0 < res.events["pte-changes:vale1"] < 40
    only(res)


def test_a_rollover_broadcast_is_shared_by_the_vms_vcpus(tmp_path: Path) -> None:
    """A guest that handles an ASID rollover with one broadcast for the whole VM
    (``rollover_broadcast``: TLBI VMALLE1IS at 20,000 rollovers per vCPU-second): each of the 2
    vCPUs issues it at 20,000 / 2 = 10,000 per vCPU-second, a Poisson(10) number per 1 ms step;
    over the 100 charged steps on 2 pCPUs a Poisson(2,000) number in all (1,800 to 2,200 is
    4.5 standard deviations). The guest's own broadcasts: nothing charged."""
    rates = {"asid_rollovers_per_s": 20_000.0}
    kind = Path(kind_file(tmp_path, "aarch64", {"rollover": "vmalle1is"}, rates))
    flag = "rollover_broadcast = { value = "
    kind.write_text(kind.read_text().replace(flag + "false", flag + "true"))
    (tmp_path / "two.lackey").write_text(TRACE)
    domains = [DomainGroup(kind=str(kind), count=1, vcpus=2, trace="two.lackey")]
    w = pinned(tmp_path, domains, SHORT_SLICE_MS)
    res = evaluate_exact(w, "none", 2, 1, None, refs_per_vcpu_s=REFS)
    assert 1_800 < res.events["asid-rollovers:vmalle1is"] < 2_200
    only(res)


def first_anchor(tmp_path: Path, **fields: object) -> Workload:
    """The first anchor's workload (two one-vCPU VMs of the quiet guest pinned on one pCPU,
    0.1 s on anchor-round, 10 ms timeslices) with platform, kind and trace named relative to
    ``tmp_path`` (the workload file's directory): ``anchor-round.toml``, ``guest-aarch64.toml``,
    ``two.lackey``; ``fields`` replace the domain group's."""
    (tmp_path / "anchor-round.toml").write_text(Path(PLATFORM).read_text())
    kind_file(tmp_path, "aarch64", {}, {})  # guest-aarch64.toml
    (tmp_path / "two.lackey").write_text(TRACE)
    group: dict[str, object] = {"kind": "guest-aarch64.toml", "count": 2, "vcpus": 1}
    return Workload(
        platform="anchor-round.toml",
        duration_s=0.1,
        scheduler=SchedulerSpec(kind="pinned", timeslice_ms=10.0),  # type: ignore[arg-type]
        domains=[DomainGroup(**(group | fields))],  # type: ignore[arg-type]
        base_dir=str(tmp_path),
    )


def test_the_platform_kind_and_trace_are_found_next_to_the_workload_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Platform, guest kind and trace named relative to the workload file's directory, read from
    elsewhere: the first anchor's run, flush-on-switch = 4,000 + 4,000 + 200 cycles."""
    w = first_anchor(tmp_path, trace="two.lackey")
    monkeypatch.chdir(tmp_path.parent)
    res = evaluate_exact(w, "flush-on-switch", 1, 1, None, refs_per_vcpu_s=REFS)
    only(res, hyp_flush=4_000.0, tlb_refill=4_000.0, icache_refill=200.0)


def test_a_callers_trace_absent_next_to_the_workload_file_is_its_own_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trace the caller names relative to the working directory, where the workload file's
    directory has no file of that name, is read where the caller means: the first anchor's run
    (flush-on-switch = 8,200 cycles)."""
    w = first_anchor(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "mine.lackey").write_text(TRACE)
    monkeypatch.chdir(elsewhere)
    traces = {"guest-aarch64.toml": "mine.lackey"}
    res = evaluate_exact(w, "flush-on-switch", 1, 1, None, traces=traces, refs_per_vcpu_s=REFS)
    only(res, hyp_flush=4_000.0, tlb_refill=4_000.0, icache_refill=200.0)


def test_the_same_seed_gives_the_same_run(tmp_path: Path) -> None:
    """Random-migrate (a random number of moves) run twice with seed 1: the same result, figure
    for figure (rule 6)."""

    def run() -> str:
        res = exact(
            tmp_path, "flush-on-switch", pcpus=2, vms=1, sched="random-migrate", migrations=200.0
        )
        return res.to_json()

    assert run() == run()


def test_a_vcpus_private_copy_keeps_a_page_whole(tmp_path: Path) -> None:
    """One VM of two vCPUs pinned on one pCPU (they take turns), its trace two fetches of page 16
    (its first and last lines): each vCPU's private copy is offset by whole pages, so each
    vCPU has one code page of two lines. flush-on-switch: after each of the 10 counted loads the
    incoming vCPU walks once and misses twice: walks:hyp-load = 10 (tlb-refill 2,000),
    icache-refill = 20 x 20 = 400; hyp-flush = 10 x 400 = 4,000."""
    res = exact(
        tmp_path,
        "flush-on-switch",
        pcpus=1,
        vms=1,
        vcpus=2,
        lackey="I  00010000,4\nI  00010fc0,4\n",
    )
    assert res.events["vcpu-loads"] == 10.0
    assert res.events["walks:hyp-load"] == 10.0
    assert res.events["icache-misses:hyp-load"] == 20.0
    only(res, hyp_flush=4_000.0, tlb_refill=2_000.0, icache_refill=400.0)


def test_the_vcpus_private_copies_do_not_overlap(tmp_path: Path) -> None:
    """One VM of two vCPUs pinned on two pCPUs whose trace touches data pages 1 and 16 (and code
    page 2): each vCPU's private pages are its own copy, past the other's highest page. No
    policy, the guest's TLBI VALE1IS at 20,000 per vCPU-second (20 a step on each pCPU), each
    naming one of the issuer's two private data pages at random: both are named in every step
    (but with probability 2^-19), so each pCPU walks twice after each of the 100 steps, every
    walk its own instruction's (walks:guest-local = 2 x 100 x 2 = 400); a private page is never
    the other vCPU's (walks:guest-broadcast = 0). Nothing charged."""
    lackey = "I  00002000,4\n L 00001000,8\n L 00010000,8\n"
    res = exact(
        tmp_path,
        "none",
        pcpus=2,
        vms=1,
        vcpus=2,
        ops={"pte_user": "vale1is"},
        rates={"pte_changes_per_s": 20_000.0},
        timeslice_ms=SHORT_SLICE_MS,
        lackey=lackey,
    )
    assert res.events["walks:guest-local"] == 400.0
    assert res.events["walks:guest-broadcast"] == 0.0
    only(res)


def test_three_guest_kinds_each_draw_their_model_stream(tmp_path: Path) -> None:
    """Three one-vCPU VMs of three guest kinds (no trace: each kind's model stream, the k-th
    drawn from the run's seed + k) pinned on three pCPUs, seed 1: no policy and no guest
    maintenance, so nothing is charged; three vCPUs run for the 0.1 s: 0.3 vCPU-seconds, 100
    references a step each (3e4); no vCPU is ever switched (no load, no switch baseline)."""
    kinds = [kind_file(tmp_path, arch, {}, {}) for arch in ("aarch64", "aarch32")]
    third = tmp_path / "guest-third.toml"
    third.write_text(Path(kinds[0]).read_text())
    domains = [DomainGroup(kind=k, count=1, vcpus=1) for k in [*kinds, str(third)]]
    w = pinned(tmp_path, domains, SHORT_SLICE_MS)
    res = evaluate_exact(w, "none", 3, 1, None, refs_per_vcpu_s=REFS)
    assert res.events["running-vcpu-s"] == pytest.approx(0.3)
    assert res.events["references"] == 3e4
    assert res.events.get("vcpu-loads", 0.0) == 0.0 and res.baseline_cycles == 0.0  # no load
    only(res)


def progress_of(w: Workload, sample: float | None = None) -> list[tuple[float, float]]:
    """The (simulated seconds done, in all) ``evaluate_exact`` reports for ``w`` (no policy)."""
    seen: list[tuple[float, float]] = []
    evaluate_exact(
        w, "none", 1, 1, sample, refs_per_vcpu_s=REFS, progress=lambda d, t: seen.append((d, t))
    )
    return seen


def test_the_warm_up_is_twenty_timeslices_whatever_their_length(tmp_path: Path) -> None:
    """A 1 ms run with 50 ms timeslices (steps of 1 ms): 20 timeslices of warm-up are 1,000 steps,
    then 1 charged step: progress at steps -1000, -950, ..., 0 (every 50th; 0 is also the last),
    21 reports of (k x 0.05 + 0.001, 1.001 s)."""
    w = first_anchor(tmp_path, trace="two.lackey")
    w = w.model_copy(
        update={"duration_s": 0.001, "scheduler": SchedulerSpec(kind="pinned", timeslice_ms=50.0)}
    )  # type: ignore[arg-type]
    seen = progress_of(w)
    assert [d for d, _ in seen] == pytest.approx([k * 0.05 + 0.001 for k in range(21)])
    assert [t for _, t in seen] == pytest.approx([1.001] * 21)


def test_a_sample_simulates_its_share_of_the_duration(tmp_path: Path) -> None:
    """The first anchor's workload (0.1 s, 10 ms timeslices: 200 warm-up steps) with sample 0.5:
    50 charged steps, so 0.25 s simulated in all; reports every 50 steps from -200 and at the
    last (49): done 0.001, 0.051, ..., 0.201 and 0.25."""
    seen = progress_of(first_anchor(tmp_path, trace="two.lackey"), sample=0.5)
    assert [d for d, _ in seen] == pytest.approx([0.001, 0.051, 0.101, 0.151, 0.201, 0.25])
    assert [t for _, t in seen] == pytest.approx([0.25] * 6)


def test_a_step_is_at_most_a_millisecond(tmp_path: Path) -> None:
    """A timeslice of 1.0005 ms is cut into the fewest equal steps of at most 1 ms: 2 of
    0.50025 ms, so the 20 timeslices of warm-up are 40 steps (-40 to -1). Reports come at every
    step that is a multiple of 50, the first at step 0, after 41 steps: 41 x 0.50025 ms =
    20.51025 ms."""
    w = first_anchor(tmp_path, trace="two.lackey")
    spec = SchedulerSpec(kind="pinned", timeslice_ms=1.0005)  # type: ignore[arg-type]
    seen = progress_of(w.model_copy(update={"scheduler": spec}))
    assert seen[0][0] == pytest.approx(0.02051025)


def test_a_fractional_reference_count_per_step_is_carried_over(tmp_path: Path) -> None:
    """100,500 references per running vCPU-second are 100.5 a 1 ms step: the steps run 100 and
    101 in turn (the half carried over), so the 100 charged steps (after 200 warm-up steps,
    which leave nothing to carry) run 10,050."""
    w = first_anchor(tmp_path, trace="two.lackey")
    res = evaluate_exact(w, "none", 1, 1, None, refs_per_vcpu_s=100_500.0)
    assert res.events["references"] == 10_050.0


def test_each_vcpu_issues_each_instruction_at_its_own_rate(tmp_path: Path) -> None:
    """Two one-vCPU VMs on two pCPUs, of two guest kinds: the first issues TLBI VALE1 at 20,000
    PTE changes and IC IVAU at 200 code changes per vCPU-second, the second TLBI VMALLE1 at
    2,000 PTE changes. Over the 0.1 s: Poisson(2,000) VALE1 (1,800 to 2,200 is 4.5 standard
    deviations), Poisson(20) IVAU (3 to 45), Poisson(200) VMALLE1 (140 to 260). Nothing
    charged (no policy)."""
    first = tmp_path / "first.toml"
    rates = {"pte_changes_per_s": 20_000.0, "code_changes_per_s": 200.0}
    Path(
        kind_file(tmp_path, "aarch64", {"pte_user": "vale1", "code_change": "ivau"}, rates)
    ).rename(first)
    second = kind_file(tmp_path, "aarch64", {"pte_user": "vmalle1"}, {"pte_changes_per_s": 2_000.0})
    (tmp_path / "two.lackey").write_text(TRACE)
    domains = [
        DomainGroup(kind=k, count=1, vcpus=1, trace="two.lackey") for k in (str(first), second)
    ]
    w = pinned(tmp_path, domains, SHORT_SLICE_MS)
    res = evaluate_exact(w, "none", 2, 1, None, refs_per_vcpu_s=REFS)
    assert 1_800 < res.events["pte-changes:vale1"] < 2_200
    assert 3 < res.events["code-changes:ivau"] < 45
    assert 140 < res.events["pte-changes:vmalle1"] < 260
    only(res)


def test_the_result_names_its_policy_platform_clock_and_assumptions(tmp_path: Path) -> None:
    """The first anchor (flush-on-switch, two VMs on one pCPU: 8,200 cycles) on anchor-round
    with a 2 GHz clock: the machine is 1 pCPU x 2e9 cycles/s x 0.1 s = 2e8 cycles, so 0.0041%;
    the result names the policy and the platform, and its assumptions include the platform's
    assumed figures (anchor-round assumes every figure, e.g. ``tlbi_local_cycles``) and the
    guest kind's assumed rates."""
    res = exact(tmp_path, "flush-on-switch", pcpus=1, vms=2, plat={"clock_ghz": 2.0})
    only(res, hyp_flush=4_000.0, tlb_refill=4_000.0, icache_refill=200.0)
    assert res.machine_cycles == pytest.approx(2e8)
    assert res.overhead_pct == pytest.approx(0.0041)
    assert res.policy == "flush-on-switch" and res.platform == "anchor-round"
    assert "anchor-round:tlbi_local_cycles" in res.assumptions
    assert any(a.endswith(":pte_changes_per_s") for a in res.assumptions)


def test_a_sample_scales_the_cost_to_other_cores(tmp_path: Path) -> None:
    """The ALLE1IS anchor (four one-vCPU VMs pinned on two pCPUs, TLBI ALLE1IS at each load)
    with sample = 0.5: 50 charged steps whose 5 timeslice ends are scaled by 2, the same
    figures as the whole run: dvm-others 400 and collateral-tlb 4,000 reach the other core, 4,400
    of 2e8 cycles = 0.0022%."""
    res = exact(tmp_path, ALLE1IS_AT_LOAD, pcpus=2, vms=4, sample=0.5)
    only(res, hyp_flush=30_000.0, dvm_others=400.0, tlb_refill=4_000.0, collateral_tlb=4_000.0)
    assert res.cost_to_others_pct == pytest.approx(0.0022)
