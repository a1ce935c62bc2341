"""A covering record's ``tlb_key`` and ``bp_key`` stand for what its TLB and predictor
questions answer (``Coverage.tlb``, ``asid``, ``bp``): the key's memos (``keyplan.py``) reuse a
block computed for a record with the same key, so two records with the same key must answer
those questions alike, and a copy, which answers them alike, keeps both keys."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from vtlbsim.arch.ops import ALL_OPS, op
from vtlbsim.arch.tlb import GLOBAL
from vtlbsim.check.coverage import Coverage, tlb_steps
from vtlbsim.sim.events import Maintain

VAS = range(4)
ASIDS = (0, 1, 2)


def _record(cov: Coverage, name: str, arch: str, va: int, asid: int, step: int) -> None:
    m = op(arch, name)  # type: ignore[arg-type]
    cov.record(Maintain("g", 0, m, va=va), asid, 0x40 + va, (step, m.name))


def test_an_instruction_renews_only_the_key_of_what_it_covers() -> None:
    """By hand: TLBIMVA (a TLB instruction) renews ``tlb_key`` and leaves ``bp_key``; BPIMVA
    and BPIALL renew ``bp_key`` only; ICIMVAU (I-cache by VA) renews neither (it covers no TLB
    entry and no prediction); ICIALLU renews ``bp_key`` (it also invalidates the predictors,
    ``Coverage.record``) but not ``tlb_key``; a copy keeps both."""
    cov = Coverage()
    cases = [
        ("tlbimva", True, False),
        ("bpimva", False, True),
        ("bpiall", False, True),
        ("icimvau", False, False),
        ("iciallu", False, True),
        ("tlbiall", True, False),
    ]
    for step, (name, tlb, bp) in enumerate(cases, start=1):
        t0, b0 = cov.tlb_key, cov.bp_key
        _record(cov, name, "aarch32", 1, 1, step)
        assert (cov.tlb_key is not t0, cov.bp_key is not b0) == (tlb, bp), name
        c = cov.copy()
        assert c.tlb_key is cov.tlb_key and c.bp_key is cov.bp_key
        assert c == cov


def test_keys_are_fresh_per_record() -> None:
    """Two records made apart share neither key, even when both are empty (a key says
    "answers as this record does", not "answers as any empty record")."""
    a, b = Coverage(), Coverage()
    assert a.tlb_key is not b.tlb_key and a.bp_key is not b.bp_key


def _answers(cov: Coverage) -> tuple[tuple[object, ...], tuple[object, ...]]:
    tlb = tuple(cov.tlb(tag, va) for tag in (*ASIDS, GLOBAL) for va in VAS)
    tlb += tuple(cov.asid(a) for a in ASIDS)
    bp = tuple(cov.bp(va) for va in VAS)
    return tlb, bp


OPS = list(ALL_OPS)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 30),  # which record so far to copy and record into
            st.sampled_from(OPS),
            st.sampled_from(list(VAS)),
            st.sampled_from(ASIDS),
        ),
        max_size=30,
    )
)
def test_records_with_the_same_key_answer_alike(
    steps: list[tuple[int, object, int, int]],
) -> None:
    """Records copied from one another (as the oracle copies before it records) and recorded
    into with any instruction: whenever two have the same ``tlb_key`` their TLB answers are
    equal, and the same for ``bp_key`` and predictor answers."""
    records = [Coverage()]
    for n, (i, m, va, asid) in enumerate(steps, start=1):
        c = records[i % len(records)].copy()
        c.record(Maintain("g", 0, m, va=va), asid, 0x40 + va, (n, m.name))  # type: ignore[arg-type]
        records.append(c)
    by_tlb: dict[int, tuple[object, ...]] = {}
    by_bp: dict[int, tuple[object, ...]] = {}
    for r in records:
        tlb, bp = _answers(r)
        assert by_tlb.setdefault(id(r.tlb_key), tlb) == tlb
        assert by_bp.setdefault(id(r.bp_key), bp) == bp


def test_tlb_steps_by_hand() -> None:
    """A local TLBIMVA of VA 1 with ASID 1 at step 3 and a broadcast TLBIASIDIS of ASID 2 at
    step 5: VA 1 under ASID 1 is covered at 3 (and its global entry, which a by-VA-and-ASID
    instruction also removes), every VA under ASID 2 at 5, VA 0 under ASID 1 never (0)."""
    loc, shared = Coverage(), Coverage()
    _record(loc, "tlbimva", "aarch32", 1, 1, 3)
    _record(shared, "tlbiasidis", "aarch32", 0, 2, 5)
    got = tlb_steps(loc, shared, (1, 2, GLOBAL), (0, 1))
    assert got == {
        (1, 0): 0,
        (2, 0): 5,
        (GLOBAL, 0): 0,
        (1, 1): 3,
        (2, 1): 5,
        (GLOBAL, 1): 3,
    }


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.sampled_from(list(ALL_OPS)), st.sampled_from(list(VAS))),
        max_size=12,
    ),
    st.sampled_from(ASIDS),
)
def test_tlb_steps_is_the_later_of_the_two_records(
    steps: list[tuple[bool, object, int]], asid: int
) -> None:
    """``tlb_steps`` answers, for every tag and VA, the step of ``max(loc.tlb, shared.tlb)``
    (``Coverage.tlb``, the rule the oracle judges with)."""
    loc, shared = Coverage(), Coverage()
    for n, (local, m, va) in enumerate(steps, start=1):
        (loc if local else shared).record(Maintain("g", 0, m, va=va), asid, 0x40 + va, (n, "x"))  # type: ignore[arg-type]
    tags = (*ASIDS, GLOBAL)
    got = tlb_steps(loc, shared, tags, VAS)
    assert got == {
        (tag, va): max(loc.tlb(tag, va), shared.tlb(tag, va))[0] for va in VAS for tag in tags
    }
