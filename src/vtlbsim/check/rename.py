"""The renamings of a canonical key (``key.py``): a state's facts renamed by each pCPU and
vCPU permutation (and the process and ASID swaps that go with them, ``KeyPlan.renamers``),
one component at a time, and the lexicographically smallest of them, computed only as far as
a renaming still ties with the smallest so far."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from .blocks import Fact, Renamer
from .keyplan import KeyPlan


def _renamed(form: tuple[Any, ...], v: Sequence[int], p: Sequence[int]) -> tuple[Any, ...]:
    """``form`` (from ``state_form``) with its vCPUs and pCPUs renamed."""
    tag = form[0]
    if tag == "v":
        return ("v", v[form[1]])
    if tag == "p":
        return ("p", p[form[1]])
    if tag == "F":
        return ("F", tuple(sorted(_renamed(y, v, p) for y in form[1])))
    if tag == "t" or tag == "d":
        return (tag, form[1], tuple(_renamed(y, v, p) for y in form[2]))
    return form


def _rename(plan: KeyPlan, f: list[list[Fact]], r: Renamer) -> Iterator[tuple[Any, ...]]:
    """The facts renamed by ``r`` (vCPU ``i`` to ``v[i]``, pCPU ``i`` to ``p[i]``, index -1,
    none, to the lists' last element, -1; tables by ``t``, ASIDs by ``s``, names neither maps
    stay; a vCPU's legality block to the block renamed), one component of the key
    at a time."""
    yield _renamed_vcpus(f[0], r)
    yield from _rest(plan, f, r)


def _renamed_vcpus(fv: list[Fact], r: Renamer) -> tuple[Any, ...]:
    """The first component of a key (the vCPUs' facts) renamed by ``r``."""
    v, p, t, s, _ = r
    return tuple(
        sorted([(v[a], p[b], p[c], s.get(d, d), t.get(e, e), g) for a, b, c, d, e, g in fv])
    )


def _rest(plan: KeyPlan, f: list[list[Fact]], r: Renamer) -> Iterator[tuple[Any, ...]]:
    """``_rename`` but its first component."""
    v, p, t, s, _ = r
    _, fp, fm, fn, fa, ft, fL, fi, fF, fb, fB, fs, fr, fu, fd = f
    yield tuple(sorted([(p[a], v[b], v[c]) for a, b, c in fp]))
    yield tuple(sorted([(t.get(a, a), b, c, d) for a, b, c, d in fm])) if t else tuple(sorted(fm))
    yield tuple(sorted([(t.get(a, a), s.get(b, b)) for a, b in fn]))
    yield tuple(sorted([(t.get(a, a), v[b]) for a, b in fa]))
    yield tuple(
        sorted([(p[a], b, s.get(c, c), d, v[e], t.get(g, g), h) for a, b, c, d, e, g, h in ft])
    )
    legal = plan.legal_blocks.renamed
    yield tuple(sorted([(v[a], legal(block, r)) for a, block in fL]))
    yield tuple(sorted([(p[a], b, c) for a, b, c in fi]))
    yield tuple(sorted([(v[a], b, c) for a, b, c in fF]))
    yield tuple(sorted([(p[a], s.get(b, b), c, d, e, v[g], h) for a, b, c, d, e, g, h in fb]))
    trained = plan.trained_blocks.renamed
    yield tuple(sorted([(v[a], trained(block, r)) for a, block in fB]))
    yield tuple(sorted([(a, b, p[c], v[d], _renamed(e, v, p)) for a, b, c, d, e in fs]))
    yield tuple(sorted([(p[a], b, c, d, e, g, p[h]) for a, b, c, d, e, g, h in fr]))
    yield tuple(sorted([(v[a], b, c, d, e, g) for a, b, c, d, e, g in fu]))
    yield tuple(fd)


def _least(
    candidates: list[Iterator[tuple[Any, ...]]], first: tuple[Any, ...], start: int = 0
) -> tuple[Any, ...]:
    """The lexicographically smallest key the ``candidates`` (renamings, one component at a
    time, from component ``start`` on: the earlier ones tie with ``first``'s) make, ``first``
    (the identity's key) among them; a candidate is computed only while it ties with the
    smallest so far, so the key of a state without symmetry costs each other renaming about
    one component."""
    done: list[tuple[Any, ...]] = list(first[:start])
    live = candidates
    if not live:
        return first
    for b in first[start:]:
        low = b
        heads: list[tuple[tuple[Any, ...], Iterator[tuple[Any, ...]]]] = []
        for it in live:
            c = next(it)
            if c < low:
                low = c
                heads = [(c, it)]
            elif c == low:
                heads.append((c, it))
        if low < b:  # a renaming beats the identity: its remaining components decide
            return _least_of(done + [low], [it for c, it in heads])
        done.append(b)
        live = [it for c, it in heads]
        if not live:
            return first
    return first


def _least_of(
    done: list[tuple[Any, ...]], live: list[Iterator[tuple[Any, ...]]]
) -> tuple[Any, ...]:
    """The smallest completion of ``done`` among the ``live`` renamings (all tied so far)."""
    while len(live) > 1:
        low: tuple[Any, ...] | None = None
        heads: list[tuple[tuple[Any, ...], Iterator[tuple[Any, ...]]]] = []
        for it in live:
            c = next(it, None)
            if c is None:
                return tuple(done)
            if low is None or c < low:
                low = c
                heads = [(c, it)]
            elif c == low:
                heads.append((c, it))
        assert low is not None
        done.append(low)
        live = [it for c, it in heads]
    done.extend(live[0])
    return tuple(done)


def _smallest(
    plan: KeyPlan, f: list[list[Fact]], renamers: list[Renamer], identity: tuple[Any, ...]
) -> tuple[Any, ...]:
    """``_least`` of every renaming of ``f`` (``identity``: its identity renaming): the least
    first component and the renamings that make it (``KeyPlan.least_vcpus``), then the rest
    only for those."""
    b = identity[0]
    low, tied = plan.least_vcpus(b, renamers, _renamed_vcpus)
    rest = [_rest(plan, f, r) for r in tied]
    if low < b:  # a renaming beats the identity: its remaining components decide
        return _least_of([low], rest)
    return _least(rest, identity, 1)
