"""Naming sites: System.map-style tables and the kallsyms dump /init prints."""

from __future__ import annotations

import base64
import gzip

from vtlbsim.census import symbols

MAP = """ffff800008010000 T _text
ffff800008010000 T _stext
ffff800008020000 t ptep_clear_flush
ffff800008020100 T tlb_flush
ffff800008030000 D some_data
"""


def test_names_and_extents() -> None:
    table = symbols.from_map(MAP)
    assert table.name(0xFFFF80000802005C) == "ptep_clear_flush+0x5c"
    assert table.name(0xFFFF800008020100) == "tlb_flush+0x0"
    assert table.name(0x1000) == "0x1000"  # below every symbol
    assert table.name(0xFFFF800008020100 + symbols.MAX_OFFSET + 4).startswith("0x")
    assert table.extent("ptep_clear_flush") == (0xFFFF800008020000, 0xFFFF800008020100)
    assert table.address("some_data") is None  # data symbols are not text
    assert symbols.from_map(MAP, None).address("some_data") == 0xFFFF800008030000


def test_kallsyms_from_the_console() -> None:
    blob = base64.encodebytes(gzip.compress(MAP.encode())).decode()
    console = (
        "census: done\ncensus: kallsyms begin\n"
        + blob
        + "[   12.3] a kernel message in between\ncensus: kallsyms end\n"
    )
    table = symbols.kallsyms_from_console(console)
    assert table is not None and table.name(0xFFFF800008020104) == "tlb_flush+0x4"
    assert symbols.kallsyms_from_console("census: done\n") is None
