"""Naming instruction addresses: the guest's own /proc/kallsyms (dumped by the census /init
after the workload, from the same boot, so KASLR does not matter) or a System.map-style file
(Xen's xen-syms map from xen-hypervisor-*-dbg, the armhf-up build's System.map)."""

from __future__ import annotations

import base64
import binascii
import bisect
import gzip
import zlib
from dataclasses import dataclass

MAX_OFFSET = 0x10000
"""Beyond this distance from the nearest symbol below, an address is not named after it (e.g.
arm64's KPTI trampoline, mapped at a fixmap address no symbol covers)."""


@dataclass(frozen=True)
class SymbolTable:
    """Text symbols sorted by address."""

    addresses: tuple[int, ...]
    names: tuple[str, ...]

    def name(self, addr: int) -> str:
        """``function+0xoffset`` for ``addr``, or its hex value when no symbol precedes it."""
        i = bisect.bisect_right(self.addresses, addr) - 1
        if i < 0 or addr - self.addresses[i] > MAX_OFFSET:
            return f"0x{addr:x}"
        return f"{self.names[i]}+0x{addr - self.addresses[i]:x}"

    def address(self, name: str) -> int | None:
        for a, n in zip(self.addresses, self.names, strict=True):
            if n == name:
                return a
        return None

    def extent(self, name: str) -> tuple[int, int] | None:
        """[start, end) of a function: up to the next higher symbol address."""
        start = self.address(name)
        if start is None:
            return None
        i = bisect.bisect_right(self.addresses, start)
        return start, self.addresses[i] if i < len(self.addresses) else start + 4


TEXT_TYPES = ("t", "T", "W", "w")


def from_map(text: str, types: tuple[str, ...] | None = TEXT_TYPES) -> SymbolTable:
    """Lines ``ADDRESS TYPE NAME`` (kallsyms, System.map, Xen's map); symbols of ``types``
    (None: every type)."""
    pairs = []
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 3 and (types is None or f[1] in types):
            try:
                pairs.append((int(f[0], 16), f[2]))
            except ValueError:
                continue
    pairs.sort()
    return SymbolTable(tuple(a for a, _ in pairs), tuple(n for _, n in pairs))


def kallsyms_from_console(console: str) -> SymbolTable | None:
    """The table /init printed between "census: kallsyms begin/end" (gzip, base64), if any."""
    begin, end = "census: kallsyms begin", "census: kallsyms end"
    if begin not in console or end not in console:
        return None
    body = console.split(begin, 1)[1].split(end, 1)[0]
    b64 = "".join(ln.strip() for ln in body.splitlines() if ln.strip() and " " not in ln.strip())
    try:
        text = gzip.decompress(base64.b64decode(b64)).decode(errors="replace")
    except (binascii.Error, OSError, EOFError, zlib.error):
        return None
    return from_map(text)
