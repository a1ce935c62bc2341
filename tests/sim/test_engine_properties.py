"""The invariants of SPEC §5 over random scenarios whose guests follow their own rules."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from vtlbsim.arch.ops import Arch
from vtlbsim.check.replay import replay
from vtlbsim.hyp.registry import all_policies
from vtlbsim.litmus import parse
from vtlbsim.sim.events import PteWrite, Run, SetTable
from vtlbsim.sim.random_scenario import GuestShape, random_scenario
from vtlbsim.sim.scenario import Scenario

SAFE = ("flush-on-switch", "flush-on-arrival", "fb+last-vcpu-ran")
POLICIES = all_policies()


@st.composite
def shapes(draw: st.DrawFn, max_vcpus: int = 3) -> list[GuestShape]:
    out = []
    for name in ("g", "h")[: draw(st.integers(1, 2))]:
        disc = draw(st.sampled_from(("broadcast", "local", "percpu")))
        arch = Arch.AARCH64 if disc == "percpu" else draw(st.sampled_from(list(Arch)))
        # a `local` guest is a UP kernel: one CPU. With two, a vCPU keeps what another vCPU's
        # local TLBI removed only on its own pCPU, a guest bug bare metal shows too (hypothesis
        # found one under Python 3.13: a prediction trained through such a stale entry)
        vcpus = 1 if disc == "local" else draw(st.integers(1, max_vcpus))
        out.append(GuestShape(name, vcpus, arch, disc))
    return out


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    return random_scenario(
        draw(st.integers(0, 2**31)),
        draw(st.integers(10, 160)),
        draw(st.integers(1, 4)),
        draw(shapes()),
    )


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31), st.integers(10, 200), shapes(max_vcpus=2))
def test_pinned_alone_is_bare_metal(seed: int, steps: int, guests: list[GuestShape]) -> None:
    """Every vCPU pinned to its own pCPU, nothing else there: `none` gives zero violations."""
    pcpus = sum(g.vcpus for g in guests)
    sc = random_scenario(seed, steps, pcpus, guests, pinned=True)
    out = replay(sc, POLICIES["none"]())
    assert out.violations == []


@settings(max_examples=60, deadline=None)
@given(scenarios())
def test_safe_policies_never_violate_a_correct_guest(sc: Scenario) -> None:
    for name in SAFE:
        out = replay(sc, POLICIES[name]())
        assert out.guest_errors == [], out.guest_errors[0].explain()
        assert out.violations == [], f"{name}: {out.violations[0].explain()}"


@settings(max_examples=40, deadline=None)
@given(scenarios(), st.sampled_from(sorted(POLICIES)))
def test_generated_guests_follow_their_rules(sc: Scenario, policy: str) -> None:
    assert replay(sc, POLICIES[policy]()).guest_errors == []


def _current_output(sc: Scenario, upto: int, vcpu: str, va: int) -> int | None:
    """What ``vcpu``'s table maps ``va`` to after step ``upto``: an independent replay of writes."""
    tables: dict[tuple[str, str], dict[int, int]] = {}
    current: dict[str, str] = {}
    for ev in sc.events[:upto]:
        if isinstance(ev, Run):
            continue
        who = f"{ev.domain}.{ev.vcpu}"
        if isinstance(ev, SetTable):
            current[who] = ev.table
        elif isinstance(ev, PteWrite):
            t = tables.setdefault((ev.domain, ev.table or current.get(who, "main")), {})
            if ev.pte is None:
                t.pop(ev.va, None)
            else:
                t[ev.va] = ev.pte.pa
    dom = vcpu.rsplit(".", 1)[0]
    return tables.get((dom, current.get(vcpu, "main")), {}).get(va)


@settings(max_examples=60, deadline=None)
@given(scenarios(), st.sampled_from(("none", "last-vcpu-ran", "flush-1vcpu-only", "fb", "xen")))
def test_a_hit_on_the_current_mapping_is_never_a_violation(sc: Scenario, policy: str) -> None:
    for v in replay(sc, POLICIES[policy]()).violations:
        if v.category in ("stale-tlb", "cross-vcpu-tlb"):
            now = _current_output(sc, v.step, v.vcpu, v.va)
            assert now is None or v.used != f"{now * 4096:#x}"
            assert v.used not in v.legal


def test_unsafe_policies_are_caught_on_these_scripts() -> None:
    """The safety properties above are not vacuous: the same generator breaks `none`."""
    broken = 0
    for seed in range(40):
        guests = [
            GuestShape("g", 1, Arch.AARCH32, "local"),
            GuestShape("h", 2, Arch.AARCH64, "percpu"),
        ]
        sc = random_scenario(seed, 150, 2, guests)
        broken += bool(replay(sc, POLICIES["none"]()).violations)
    assert broken >= 5


@settings(max_examples=25, deadline=None)
@given(scenarios(), st.sampled_from(sorted(POLICIES)))
def test_litmus_round_trip_and_determinism(sc: Scenario, policy: str) -> None:
    """A scenario written as a litmus file reads back to the same outcome, every time."""
    first = replay(sc, POLICIES[policy]()).to_json()
    again = replay(sc, POLICIES[policy]()).to_json()
    assert json.dumps(first) == json.dumps(again)
    back = parse(sc.to_litmus(), "rt.toml")
    assert len(back.events) == len(sc.events)
    reread = replay(back, POLICIES[policy]()).to_json()
    for v in reread["violations"] + reread["guest_errors"]:
        v.pop("line"), v.pop("explanation")
    for v in first["violations"] + first["guest_errors"]:
        v.pop("line"), v.pop("explanation")
    assert reread == first
