"""What a check reports and what the verdict cache keeps (``check/result.py``,
``check/findings.py``): every field written by hand here, then read back through the cache's
JSON form; the texts the CLI prints, pinned on the fields a reader acts on."""

from __future__ import annotations

import pytest

from vtlbsim.arch.ops import BP_READINGS, BpReading
from vtlbsim.check.findings import GuestError, Violation
from vtlbsim.check.replay import Outcome, build_domains
from vtlbsim.check.result import CheckResult
from vtlbsim.litmus import parse
from vtlbsim.litmus.errors import LitmusError

LITMUS = """pcpus = 2
steps = \"\"\"
run g.0 on 0
g.0 map 0x1000 0xa000
g.0 load 0x1000
run g.0 on 1
g.0 unmap 0x1000
g.0 tlbi vale1 0x1000
run g.0 on 0
g.0 load 0x1000
\"\"\"

[domains.g]
vcpus = 1
arch = "aarch64"
"""


def stale() -> Violation:
    """The H1 use of the litmus above: g.0 back on pCPU 0 at step 8 hits what it filled there
    at step 3, which its own VALE1 at step 6 covers; 0x1000 is unmapped (no legal output)."""
    return Violation(8, "stale-tlb", "g.0", 0, 1, "0xa000", [], "g.0", 3, 0, "vale1", 6)


def unsafe() -> CheckResult:
    return CheckResult(
        "linux-arm64-local",
        "flush-on-switch",
        2,
        2,
        7,
        1234,
        6,
        1.23456,
        counterexample=parse(LITMUS, path="<test>"),
        violation=stale(),
        actions=["v0 fetch 0x1000", "migrate v0 to pCPU 1", "v0 unmap 0x1000"],
        vas=2,
        policy_ref="my.module:Flush",
        incomplete=True,
        bp=BpReading(False, False),
        vms=2,
    )


def test_an_unsafe_result_reads_back_from_the_cache_with_every_field() -> None:
    data = unsafe().to_json()
    # what the cache stores, by hand
    assert {k: data[k] for k in data if k not in ("violation", "actions", "litmus")} == {
        "kind": "linux-arm64-local",
        "policy": "flush-on-switch",
        "policy_ref": "my.module:Flush",
        "pcpus": 2,
        "vcpus": 2,
        "depth": 7,
        "vas": 2,
        "incomplete": True,
        "bp": "invisible",
        "vms": 2,
        "safe": False,
        "states": 1234,
        "depth_reached": 6,
        "seconds": 1.235,  # rounded to the millisecond
    }
    assert data["actions"] == ["v0 fetch 0x1000", "migrate v0 to pCPU 1", "v0 unmap 0x1000"]
    assert data["violation"]["va"] == "0x1000" and data["violation"]["covered_by"] == "vale1"
    r = CheckResult.from_json(data)
    assert (r.kind, r.policy, r.policy_ref) == (
        "linux-arm64-local",
        "flush-on-switch",
        "my.module:Flush",
    )
    assert (r.pcpus, r.vcpus, r.depth, r.states, r.depth_reached) == (2, 2, 7, 1234, 6)
    assert r.seconds == 1.235 and r.vas == 2 and r.vms == 2
    assert r.incomplete is True and r.from_cache is True
    assert r.bp == BpReading(False, False)
    assert r.violation == stale()  # the VA back to a page number, the explanation dropped
    assert r.violation is not None and r.violation.explain() == stale().explain()
    assert r.actions == ["v0 fetch 0x1000", "migrate v0 to pCPU 1", "v0 unmap 0x1000"]
    assert r.counterexample is not None and len(r.counterexample.events) == 8
    assert not r.safe


def test_a_safe_result_stores_no_counterexample_and_reads_back_safe() -> None:
    r = CheckResult("linux-arm64-smp", "fb", 2, 2, 9, 500, 9, 0.5)
    data = r.to_json()
    assert data["safe"] is True and data["policy_ref"] == "fb" and data["bp"] == "visible"
    assert "violation" not in data and "litmus" not in data and "actions" not in data
    back = CheckResult.from_json(data)
    assert back.safe and back.violation is None and back.actions == []
    assert back.summary() == "safe up to depth 9 (500 states)"


def test_an_old_cache_entry_without_the_later_options_reads_as_their_defaults() -> None:
    """Entries written before ``policy_ref``, ``--incomplete``, the BP readings and ``--vms``
    existed: a registered policy asked for by its name, complete maintenance, the ``visible``
    reading (SPEC §3: the default), one VM."""
    data = {
        "kind": "linux-arm32-smp",
        "policy": "trap-ttlb",
        "pcpus": 2,
        "vcpus": 2,
        "depth": 5,
        "vas": 1,
        "safe": True,
        "states": 10,
        "depth_reached": 5,
        "seconds": 0.1,
    }
    r = CheckResult.from_json(data)
    assert r.policy_ref == "trap-ttlb"
    assert r.incomplete is False
    assert r.bp == BP_READINGS["visible"] and r.bp.visible and not r.bp.bpiall_fb_upgrade
    assert r.vms == 1 and r.vas == 1 and r.from_cache


def test_the_unsafe_summary_counts_actions_events_and_states() -> None:
    assert unsafe().summary() == "unsafe: stale-tlb after 3 actions (8 events; 1234 states)"


def test_the_violation_line_names_what_the_developer_acts_on() -> None:
    """Kind, vCPU, pCPU, VA, the stale output, who filled it where, and the instruction that
    should have removed it (SPEC §5's report)."""
    v = stale()
    assert v.explain() == (
        "step 8: stale-tlb: g.0 on pCPU 0 used a translation 0xa000 for VA 0x1000, filled by "
        "g.0 on pCPU 0 at step 3; the guest's vale1 at step 6 covers it; legal: no translation"
    )
    v.line = 12
    v.legal = ["0xb000", "0xc000"]
    assert v.explain().startswith("step 8 (line 12): stale-tlb: ")
    assert v.explain().endswith("; legal: 0xb000, 0xc000")
    code = Violation(9, "stale-icache", "g.1", 1, 2, "0xa000:v0", ["0xa000:v1"], "g.0", 4, 0, "", 0)
    # no covering instruction (step 0): the clause is left out
    assert code.explain() == (
        "step 9: stale-icache: g.1 on pCPU 1 used fetched code 0xa000:v0 for VA 0x2000, filled "
        "by g.0 on pCPU 0 at step 4; legal: 0xa000:v1"
    )
    bp = Violation(9, "stale-bp", "g.1", 1, 2, "0xa000:v0", [], "g.0", 4, 0, "bpiall", 5)
    assert " used a branch prediction 0xa000:v0 for VA 0x2000," in bp.explain()
    assert "; the guest's bpiall at step 5 covers it;" in bp.explain()


def test_the_violation_json_has_spec_6s_fields() -> None:
    v = stale()
    v.line = 12
    assert v.to_json() == {
        "step": 8,
        "line": 12,
        "category": "stale-tlb",
        "vcpu": "g.0",
        "pcpu": 0,
        "va": "0x1000",
        "used": "0xa000",
        "legal": [],
        "filled_by": "g.0",
        "filled_at_step": 3,
        "filled_on_pcpu": 0,
        "covered_by": "vale1",
        "covered_at_step": 6,
        "explanation": v.explain(),
    }


def test_the_guest_error_line_and_json() -> None:
    g = GuestError(5, "g.1", "asid-reuse", "ASID 1 reused")
    assert g.explain() == "step 5: guest-error asid-reuse: g.1: ASID 1 reused"
    g.line = 9
    assert g.explain() == "step 5 (line 9): guest-error asid-reuse: g.1: ASID 1 reused"
    assert g.to_json() == {
        "step": 5,
        "vcpu": "g.1",
        "kind": "asid-reuse",
        "message": "ASID 1 reused",
        "line": 9,
        "explanation": "step 5 (line 9): guest-error asid-reuse: g.1: ASID 1 reused",
    }


def test_an_outcome_is_a_violation_only_for_hypervisor_violations() -> None:
    """SPEC §6: guest errors are listed but do not change the outcome."""
    g = GuestError(5, "g.0", "break-before-make", "rewrote")
    clean = Outcome("none", [], [g])
    assert clean.outcome == "clean"
    j = clean.to_json()
    assert j["outcome"] == "clean" and j["policy"] == "none" and j["violations"] == []
    assert j["guest_errors"] == [g.to_json()]
    bad = Outcome("fb", [stale()], [])
    bad.counts.update({"tlb-miss": 2, "load": 3})
    j = bad.to_json()
    assert j["outcome"] == "violation" and j["policy"] == "fb"
    assert j["violations"] == [stale().to_json()] and j["guest_errors"] == []
    assert list(j["counts"].items()) == [("load", 3), ("tlb-miss", 2)]  # sorted by name


def test_a_cache_entry_reads_back_without_its_explanation_and_names_itself_when_broken() -> None:
    """The explanation is derived text: an entry without it still reads. A counterexample
    that is not a litmus file is an error naming the verdict cache (DEVELOPERS.md rule 4)."""
    data = unsafe().to_json()
    del data["violation"]["explanation"]
    r = CheckResult.from_json(data)
    assert r.violation == stale()
    data["litmus"] = "pcpus = 2\n"
    with pytest.raises(LitmusError, match=r"^<verdict cache>:"):
        CheckResult.from_json(data)


def test_a_safe_result_stores_no_violation_even_if_one_was_set() -> None:
    """Safe means no counterexample (``CheckResult.safe``); without one, nothing of a
    violation is stored."""
    r = CheckResult("linux-arm64-smp", "fb", 2, 2, 9, 500, 9, 0.5, violation=stale())
    data = r.to_json()
    assert data["safe"] is True and "violation" not in data and "litmus" not in data


def test_a_replay_builds_the_scenarios_domains_with_their_vmids_kinds_and_pinning() -> None:
    """VMIDs 1, 2, ... in declaration order unless a domain names its own; ``kind`` and
    ``pinned`` as written (Gunyah and Hafnium read ``pinned``: SPEC §4)."""
    text = (
        'pcpus = 2\nsteps = """\nrun a.0 on 0\n"""\n\n[domains.a]\nkind = "linux-arm32-up"\n'
        'arch = "aarch32"\npinned = true\n\n[domains.b]\nvcpus = 2\n\n[domains.c]\nvmid = 1\n'
    )
    doms = build_domains(parse(text))
    assert [(d.name, d.vmid, d.nvcpus, d.kind, d.pinned) for d in doms] == [
        ("a", 1, 1, "linux-arm32-up", True),
        ("b", 2, 2, None, False),
        ("c", 1, 1, None, False),
    ]
    assert doms[0].arch == "aarch32" and doms[1].arch == "aarch64"
