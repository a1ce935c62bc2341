"""The Xen check: pairing load events with the CPU state logged before them, and comparing the
binary's flushes with the ``xen`` policy's. Expected flushes follow Xen's p2m_restore_state
(607ad85d85): flush iff ``last_vcpu_ran[cpu]`` holds another vCPU; an empty slot does not flush."""

from __future__ import annotations

import pytest

from vtlbsim.census import xen
from vtlbsim.census.fetch import CensusError
from vtlbsim.census.pluginlog import A64State, Event, PluginLog

A, B, C = 0x8000_0010_0000, 0x8000_0020_0000, 0x8000_0030_0000
SITES = xen.LoadSites(after_vttbr=0x264A14, tlbis={0x264A58: "vmalls12e1"}, function=(0, 1))


def _load(seq: int, pcpu: int, vcpu: int, flushed: bool, phase: int = 1) -> xen.Load:
    return xen.Load(seq, phase, pcpu, vcpu, 1, ["vmalls12e1"] if flushed else [])


# (pCPU, vCPU, does Xen flush?) worked out by hand from last_vcpu_ran per pCPU:
SEQUENCE = [
    (0, A, False),  # p0 slot empty
    (1, B, False),  # p1 slot empty
    (0, C, True),  # p0 slot holds A
    (0, A, True),  # p0 slot holds C: A stays on p0, another vCPU ran in between
    (0, A, False),  # p0 slot holds A itself
    (0, B, True),  # B migrates from p1; p0 slot holds A
    (1, C, True),  # C migrates from p0; p1 slot holds B
]


def test_policy_and_binary_agree_on_xens_rule() -> None:
    seq = [_load(i, p, v, f) for i, (p, v, f) in enumerate(SEQUENCE)]
    out = xen.compare(seq, ("boot", "workload"))
    w = out["workload"]
    assert w["loads"] == 7
    assert w["flushes_binary"] == {"vmalls12e1": 4} == w["flushes_policy"]
    assert w["agree"] and w["disagreements"] == []
    assert w["loads_by_situation"] == {
        "first-empty": 2,
        "first-other": 1,
        "stay-other": 1,
        "stay-self": 1,
        "migrate-other": 2,
    }
    assert out["vcpus"] == {"vmid1": 3}


def test_a_missing_flush_is_reported_with_its_load() -> None:
    seq = [_load(i, p, v, f and i != 3) for i, (p, v, f) in enumerate(SEQUENCE)]
    w = xen.compare(seq, ("boot", "workload"))["workload"]
    assert not w["agree"]
    (d,) = w["disagreements"]
    assert (d["seq"], d["pcpu"], d["binary"], d["policy"]) == (3, 0, [], ["vmalls12e1"])


def test_state_carries_over_phases() -> None:
    seq = [_load(0, 0, A, False, phase=0), _load(1, 0, B, True, phase=0), _load(2, 0, A, True)]
    out = xen.compare(seq, ("boot", "workload"))
    assert out["boot"]["loads"] == 2 and out["workload"]["loads"] == 1
    assert out["workload"]["agree"]


def _state(position: int, x0: int) -> A64State:
    return A64State(position, 1, SITES.after_vttbr, (x0, 0, 1 << 48 | 0x7FFED000, 0))


def test_each_load_takes_the_cpu_state_logged_just_before_it() -> None:
    log = PluginLog()
    log.a64_states = [_state(1, A), _state(4, B)]
    log.events = [
        Event(1, 1, 0, "load", 2),
        Event(2, 1, 0, "flush-vmalls12e1", 3),
        Event(3, 1, 1, "load", 5),
    ]
    got = xen.loads(log, SITES)
    assert [(ld.pcpu, ld.vcpu_ptr, ld.vmid, ld.flushes) for ld in got] == [
        (0, A, 1, ["vmalls12e1"]),
        (1, B, 1, []),
    ]


def test_a_load_without_a_logged_state_is_an_error() -> None:
    log = PluginLog()
    log.events = [Event(1, 1, 0, "load", 2)]
    with pytest.raises(CensusError):
        xen.loads(log, SITES)


def test_hcr_as_written_against_the_policy() -> None:
    """0x807c663f (Xen 4.17 on QEMU): bit 9 FB = 1, bits [11:10] BSU = 0b01, bit 25 TTLB = 0."""
    from collections import Counter

    out = xen.hcr_check(Counter({0x807C663F: 10}))
    assert out["written"][0]["fb"] and out["written"][0]["bsu_inner_shareable"]
    assert not out["written"][0]["ttlb"]
    assert out["agree"]
    assert not xen.hcr_check(Counter({0x807C663F & ~(1 << 9): 1}))["agree"]  # FB clear
