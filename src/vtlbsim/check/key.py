"""The canonical key of a model-checker state: two paths with equal keys have the same futures.

The oracle (SPEC §5) compares step numbers only by order, and a future event is later than
every step in the state, so a state is summed up, without step numbers, by:

- the machine: which vCPU each pCPU runs, the vCPU of the VM that last ran there (what a
  policy may consult), and each vCPU's pCPU, last pCPU, ASID and table;
- the tables' current mappings, and the guest's own bookkeeping (``GuestState``);
- each TLB entry's tags and output, who filled it from which table, and whether its filler's
  covering instructions came after the fill (then bare metal could not show it to the filler);
- per vCPU, table and VA, the outputs the oracle still accepts (mapped at or after the last
  covering instruction): a covering instruction resets that set to the current output, a PTE
  write adds to it, so it evolves without the history;
- I-cache lines and predictions with code *ages* (current version minus the cached one), and
  per vCPU the oldest age the oracle still accepts (the I-cache floor) or the (PA, age) pairs
  a prediction may have been trained on.

The key is the smallest renaming of these facts over every pCPU and vCPU permutation (``rename.py``)
(policies only compare indices for equality, so a permuted state behaves the same). A vCPU's
legality and training facts enter it as one block each, (vCPU, block): the same facts as
spelled out one by one, so the same states share a key, but a renaming renames a block
through a memo (``blocks.Blocks``) rather than fact by fact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields, is_dataclass
from enum import Enum
from typing import Any

from ..arch.tlb import GLOBAL
from ..guest.tables import CodeMemory
from ..hyp.policy import PcpuId, VcpuId
from ..sim.engine import Engine
from .actions import GuestState
from .keyplan import KeyPlan
from .oracle import Oracle
from .rename import _least as _least
from .rename import _least_of as _least_of
from .rename import _rename as _rename
from .rename import _renamed as _renamed
from .rename import _smallest

Fact = tuple[Any, ...]


def _idx(name: str | None) -> int:
    """vCPU index of ``"g.1"`` (or -1)."""
    return -1 if name is None else int(name.rpartition(".")[2])


_INDICES: dict[str | None, int] = {None: -1}
"""``_idx`` of each vCPU name met."""


def _identity(f: list[list[Fact]]) -> tuple[Any, ...]:
    """The facts under the identity renaming: each component sorted (``_facts`` makes the
    vCPUs', the pCPUs' and the vCPU blocks' in index order, and the domain's is one fact;
    the components most often empty are sorted only when they hold more than one fact)."""
    fv, fp, fm, fn, fa, ft, fL, fi, fF, fb, fB, fs, fr, fu, fd = f
    return (
        tuple(fv),
        tuple(fp),
        tuple(sorted(fm)),
        tuple(sorted(fn)),
        tuple(sorted(fa)) if len(fa) > 1 else tuple(fa),
        tuple(sorted(ft)),
        tuple(fL),
        tuple(sorted(fi)) if len(fi) > 1 else tuple(fi),
        tuple(sorted(fF)) if len(fF) > 1 else tuple(fF),
        tuple(sorted(fb)) if len(fb) > 1 else tuple(fb),
        tuple(fB),
        tuple(sorted(fs)) if len(fs) > 1 else tuple(fs),
        tuple(sorted(fr)) if len(fr) > 1 else tuple(fr),
        tuple(sorted(fu)) if len(fu) > 1 else tuple(fu),
        tuple(fd),
    )


def _n(x: int | None) -> int:
    return -1 if x is None else x


COMPONENTS = "vpmnatLiFbBsrud"
"""The components of a key, in order (``raw_facts`` names them by these letters)."""


def raw_facts(
    plan: KeyPlan, engine: Engine, oracle: Oracle, g: GuestState
) -> dict[str, list[Fact]]:
    """The facts of the state, with real vCPU and pCPU indices and table names: of the VM the
    guest runs in (``g.domain``), and, of a destroyed VM (``check --vms 2``), only what it left
    in the TLBs, I-caches and predictors, as "another VM's" (whichever of its vCPUs filled it,
    the live VM's use of it is a violation: ``Oracle._hypervisor_made``). By component letter
    (``COMPONENTS``)."""
    f = _facts(plan, engine, oracle, g)
    # the legality blocks, whole in a key, fact by fact here
    f[6] = [(v, *x) for v, block in f[6] for x in block]
    f[10] = [(v, *x) for v, block in f[10] for x in block]
    return dict(zip(COMPONENTS, f, strict=True))


def _facts(plan: KeyPlan, engine: Engine, oracle: Oracle, g: GuestState) -> list[list[Fact]]:
    """``raw_facts``' components, in ``COMPONENTS`` order."""
    dn = g.domain
    dom = engine.domains[dn]
    code = dom.code
    shared = oracle.shared[dn]
    local = oracle.local
    pcpus = engine.machine.pcpus
    tables = dom.tables
    owed_set = g.needs_flush if plan.rollover_owed else ()
    # the load history the engine keeps matters only to a policy that reads it
    history = engine.policy.load_history
    vcpus = dom.vcpus
    # a vCPU never loaded has no context yet (its bring-up picks the table)
    f_v: list[Fact] = [
        (
            vc.index,
            -1 if vc.pcpu is None else vc.pcpu,
            vc.last_pcpu if history and vc.last_pcpu is not None else -1,
            vc.asid,
            "" if vc.last_pcpu is None else vc.table,
            vc.index in owed_set,
        )
        for vc in vcpus
    ]
    index = {vc.name: vc.index for vc in vcpus}  # the live VM's vCPUs (others: a destroyed VM's)
    here = engine.last_vcpu_here
    indices = _INDICES
    for p in pcpus:
        if p.running not in indices:
            indices[p.running] = _idx(p.running)
    f_p: list[Fact] = [
        (p.index, indices[p.running], here.get((dn, p.index), -1) if history else -1) for p in pcpus
    ]
    f_s: list[Fact] = []
    if engine.pstate:
        # (not ``dn``: a scope's domain must not replace the live VM's name used below)
        forms = _FORMS
        for scope, sdn, spi, svi, value in engine.pstate.entries():
            vt = type(value)
            if vt in _SIMPLE:  # memoised by type and value (an int is not a VcpuId)
                form = forms.get((vt, value))
                if form is None:
                    form = forms[(vt, value)] = state_form(value)
            else:
                form = state_form(value)
            f_s.append((scope, sdn, spi, svi, form))
    f_m: list[Fact] = []
    live: set[int] = set()
    global_mapped: list[int] = []
    for name, t in tables.items():
        current = t.current
        if not current:
            continue
        for va, pte in current.items():
            live.add(pte.pa)
            if pte.is_global:
                global_mapped.append(va)
        if name in plan.table_set:
            f_m.extend([(name, va, pte.pa, pte.is_global) for va, pte in current.items()])
    f_n: list[Fact] = [
        (name, -1 if asid is None else asid)
        for name, asid in zip(plan.tables, g.asids, strict=True)
    ]
    f_a: list[Fact] = []
    if plan.local_pte:
        names = plan.tables
        f_a = [(names[ti], v) for ti, act in enumerate(g.active) for v in act]
    # TLB entries, and the PAs they hold
    f_t: list[Fact] = []
    global_held: set[int] = set()
    for p in pcpus:
        pi = p.index
        for pages in p.tlb.by_vmid.values():
            for entries in pages.values():
                for e in entries.values():
                    fname = e.vcpu
                    va, tag = e.va, e.tag
                    live.add(e.pa)
                    if tag == GLOBAL:
                        global_held.add(va)
                    vi = index.get(fname)
                    if vi is None:  # a destroyed VM's
                        f_t.append((pi, va, tag, e.pa, -1, DEAD, False))
                    else:
                        # the step of the filler's last covering instruction
                        at = plan.tlb_steps(local[fname], shared).get((tag, va))
                        if at is None:  # a global entry
                            at = max(local[fname].tlb(tag, va), shared.tlb(tag, va))[0]
                        f_t.append((pi, va, tag, e.pa, vi, e.table, at > e.step))
    # PAs something can still translate to: maps take fresh PAs, so a PA no table maps and no
    # TLB entry holds is never reached again (its I-cache lines are dead, and no future fill
    # can have it)
    live_pas = tuple(sorted(live))
    # Which ASID a table is tagged with may change (the allocator recycles ASIDs; FreeBSD armv7
    # tags every table with ASID 0): an entry one table filled may be judged against another,
    # so the legal sets are kept for every table and tag over every live PA.
    # Global entries (``check --globals``) match every ASID: judged against every table too,
    # for each VA a global entry holds or a table maps global (a fill may make that entry at
    # any time, and which of its outputs each vCPU may use depends on when the mapping was made
    # relative to each table's current spans: two paths that map it before or after a process
    # switch differ there before the fill, not only after it).
    global_vas: tuple[int, ...] = ()
    if global_held or global_mapped:
        global_vas = tuple(sorted(global_held.union(global_mapped)))
    trains = plan.aarch32 and engine.machine.bp.visible
    f_L, f_B = plan.vcpu_blocks(
        engine, vcpus, local, shared, tables, code, global_vas, live_pas, trains
    )
    f_i: list[Fact] = []
    f_F: list[Fact] = []
    oldest: dict[int, int] = {}
    for p in pcpus:
        for (_, pa), line in p.icache.lines.items():
            if pa not in live:
                continue
            age = _code_of(engine, line.vcpu, dn, code).version(pa) - line.version
            f_i.append((p.index, pa, age))
            if age > oldest.get(pa, 0):
                oldest[pa] = age
    if oldest:
        for vc in vcpus:
            loc = local[vc.name]
            for pa, top in oldest.items():
                # a line of age a is legal iff a <= floor; only lines that exist can be judged
                at = max(loc.icache(pa), shared.icache(pa))[0]
                floor = min(top, code.version(pa) - code.version_at(pa, at))
                f_F.append((vc.index, pa, floor))
    f_b: list[Fact] = []
    if trains:
        for p in pcpus:
            for (_, asid, va), line in p.bp.entries.items():
                fname = line.vcpu
                age = _code_of(engine, fname, dn, code).version(line.pa) - line.version
                vi = index.get(fname)
                if vi is None:  # a destroyed VM's
                    f_b.append((p.index, asid, va, line.pa, age, -1, False))
                    continue
                bp_at = max(local[fname].bp(va), shared.bp(va))[0]
                f_b.append((p.index, asid, va, line.pa, age, vi, bp_at < line.step))
    f_r: list[Fact] = []
    f_u: list[Fact] = []
    pending = engine.pending
    if pending:  # incomplete maintenance: remote parts not yet complete, reports not yet made
        for issuer, remotes in pending.remote.items():
            for r in remotes:
                f_r.append((issuer, r[0].name, r[2], r[3], r[4], _n(r[5]), r[6]))
        for name, undone in pending.undone.items():
            for m, m_asid, m_pa in undone:
                f_u.append((_idx(name), m.op.name, m.va, m.pages, m_asid, _n(m_pa)))
    return [f_v, f_p, f_m, f_n, f_a, f_t, f_L, f_i, f_F, f_b, f_B, f_s, f_r, f_u, [(dn,)]]


DEAD = "~dead"
"""The table name a key gives a destroyed VM's TLB entry (no table of the live VM)."""


def _code_of(engine: Engine, vcpu: str, dn: str, live: CodeMemory) -> CodeMemory:
    """The code memory of the VM whose vCPU ``vcpu`` filled a line (the live VM's: ``live``)."""
    owner = vcpu.rpartition(".")[0]
    return live if owner == dn else engine.domains[owner].code


_SIMPLE = frozenset([VcpuId, PcpuId, int, bool, str, type(None)])
"""Policy state value types whose ``state_form`` is memoised (``_FORMS``)."""
_FORMS: dict[tuple[type, object], tuple[Any, ...]] = {}


def state_form(x: object) -> tuple[Any, ...]:
    """A policy state value as nested tagged tuples: totally ordered, ``VcpuId`` and ``PcpuId``
    marked so a renaming can reach them (``("v", i)``, ``("p", i)``), any other int data."""
    t = type(x)
    if t is VcpuId:
        return ("v", int(x))  # type: ignore[call-overload]
    if t is PcpuId:
        return ("p", int(x))  # type: ignore[call-overload]
    if x is None:
        return ("n",)
    if t is bool or t is int or t is str or t is float:
        return ("a", t.__name__, x)
    if isinstance(x, Enum):
        return ("e", t.__qualname__, x.name)
    if isinstance(x, (frozenset, set)):
        return ("F", tuple(sorted(state_form(y) for y in x)))
    if isinstance(x, tuple):
        return ("t", t.__qualname__, tuple(state_form(y) for y in x))
    if is_dataclass(x) and not isinstance(x, type):
        return ("d", t.__qualname__, tuple(state_form(getattr(x, f.name)) for f in fields(x)))
    raise TypeError(
        f"policy state value {x!r} ({t.__qualname__}): the checker needs None, bool, int, str, "
        "float, VcpuId, PcpuId, enums, tuples, frozensets or frozen dataclasses of these"
    )


def canonical_key(
    plan: KeyPlan,
    engine: Engine,
    oracle: Oracle,
    g: GuestState,
    vperms: Sequence[Sequence[int]],
    pperms: Sequence[Sequence[int]],
    memo: dict[tuple[Any, ...], tuple[Any, ...]] | None = None,
) -> tuple[Any, ...]:
    """The smallest renaming of the state's facts over the given permutations (the first
    permutation of each list must be the identity). ``memo`` maps the facts already seen (under
    the identity renaming) to their canonical key, so a state met again costs no renaming."""
    f = _facts(plan, engine, oracle, g)
    # the identity renaming is each component sorted (``_rename`` with identity maps)
    identity = _identity(f)
    if memo is not None:
        hit = memo.get(identity)
        if hit is not None:
            return hit
    best = _smallest(plan, f, plan.renamers(vperms, pperms), identity)
    if memo is not None:
        memo[identity] = best
    return best


def is_new(
    plan: KeyPlan,
    engine: Engine,
    oracle: Oracle,
    g: GuestState,
    vperms: Sequence[Sequence[int]],
    pperms: Sequence[Sequence[int]],
    met: set[tuple[Any, ...]],
) -> bool:
    """Whether the state's canonical key (``canonical_key``) is not among the keys of the
    states ``met`` holds, which it then holds too. ``met`` holds, for every state it was asked
    about, both its identity facts and its canonical key: the renamings form a group (vCPU and
    pCPU permutations, and process and ASID swaps that follow them), so a state whose identity
    facts equal another state's identity facts or canonical key is a renaming of it, and has
    its key. A state met again (the same identity facts) costs one hash and no renaming; a new
    state whose identity is its key, one hash more."""
    f = _facts(plan, engine, oracle, g)
    identity = _identity(f)
    n = len(met)
    met.add(identity)
    if len(met) == n:
        return False
    best = _smallest(plan, f, plan.renamers(vperms, pperms), identity)
    if best is identity:  # no renaming is smaller; and a key met is in ``met`` as it is
        return True
    n += 1
    met.add(best)
    return len(met) > n
