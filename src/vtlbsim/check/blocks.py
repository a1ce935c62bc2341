"""A vCPU's blocks of key facts (``keyplan.py``), each kept once per search: a key holds the
block itself, equal blocks are one object (compared by identity, hashed once), and each is
renamed once per renaming."""

from __future__ import annotations

from typing import Any

Fact = tuple[Any, ...]
Renamer = tuple[list[int], list[int], dict[str, str], dict[int, int], int]
"""vCPU and pCPU maps (index -1, none, last), table and ASID maps, and the table and ASID
maps' number (``KeyPlan.renamers``)."""


Block = tuple[Fact, ...]


class KeptBlock(tuple[Fact, ...]):
    """A block as ``Blocks.one`` keeps it: the same facts, with its hash computed once (a key
    is hashed each time the search meets a state, and a tuple's hash is computed afresh)."""

    _hash: int

    def __hash__(self) -> int:
        return self._hash


class Blocks:
    """One vCPU's blocks of legality facts, each kept once (``one``): a key holds the block
    itself, so it stays a function of the state alone, but equal blocks are one object, which
    a comparison of two keys passes by identity; and each block renamed (tables and ASIDs),
    computed once per block and renaming. A block is a sorted tuple of facts whose first field
    is a table name and, with ``tagged``, whose second is an ASID (tag)."""

    def __init__(self, tagged: bool) -> None:
        self.tagged = tagged
        self._ones: dict[Block, KeptBlock] = {}
        self._renamed: dict[tuple[int, int], Block] = {}

    def one(self, block: Block) -> Block:
        """The one object kept for blocks equal to ``block`` (kept for the whole search, so
        its identity is never reused)."""
        got = self._ones.get(block)
        if got is None:
            got = KeptBlock(block)
            got._hash = hash(block)
            self._ones[got] = got
        return got

    def renamed(self, block: Block, r: Renamer) -> Block:
        """``block`` (one from ``one``) with its tables and ASIDs renamed by ``r``."""
        k = (id(block), r[4])
        got = self._renamed.get(k)
        if got is None:
            t, s = r[2], r[3]
            if self.tagged:
                out = [(t.get(a, a), s.get(b, b), *rest) for a, b, *rest in block]
            else:
                out = [(t.get(a, a), *rest) for a, *rest in block]
            got = self._renamed[k] = self.one(tuple(sorted(out)))
        return got
