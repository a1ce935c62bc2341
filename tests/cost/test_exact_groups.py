"""Which pages exact mode's by-VA maintenance picks among (issue 15 item 6, from ``exact.py``'s
mutation survivors in ``_group``): a guest kind's stream is split into its data and code
pages, and those into global (kernel, shared by the VM's vCPUs) and private ones. A page is
64 lines of 64 bytes (4 KiB: page = address >> 12); an address at or above 1 << 47 is the
kernel's, mapped global. Every expected page is worked out by hand from the trace's
addresses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from test_exact_anchors import kind_file

from vtlbsim.cost.exact import _Group, _group
from vtlbsim.guest.rates import load_rates

G_CODE = 0x800000011
"""The kernel code page of ``MIXED`` (address 0x800000011040 >> 12)."""
G_DATA = 0x800000021
"""The kernel data page of ``MIXED`` (address 0x800000021080 >> 12)."""
MIXED = (
    "I  00010000,4\n"  # page 16, its first line
    "I  00010040,4\n"  # page 16, its second line
    "I  800000011040,4\n"  # kernel code page G_CODE, second line
    " L 00020040,8\n"  # page 32, second line
    " S 00021fc0,8\n"  # page 33, last line
    " L 800000021080,8\n"  # kernel data page G_DATA, third line
)


def group(tmp_path: Path, lackey: str | None, seed: int = 1) -> _Group:
    """``_group`` of the quiet AArch64 guest on the trace ``lackey`` (None: its model)."""
    rates = load_rates(kind_file(tmp_path, "aarch64", {}, {}))
    trace = None
    if lackey is not None:
        trace = tmp_path / "trace.lackey"
        trace.write_text(lackey)
    return _group(rates, seed, str(trace) if trace else None)


def pages(a: np.ndarray) -> list[int]:
    assert a.dtype.kind in "iu", a.dtype  # page numbers, not fractions of pages
    return [int(x) for x in a]


def test_a_traces_pages_split_into_code_and_data_global_and_private(tmp_path: Path) -> None:
    """Fetches make code pages (16 and G_CODE, page 16 once although two of its lines are
    fetched), loads and stores data pages (32, 33 and G_DATA), whatever line of the page they
    touch; of each, the kernel's are global; private data = data pages that are not global."""
    g = group(tmp_path, MIXED)
    assert pages(g.code_pages) == [16, G_CODE]
    assert pages(g.global_code) == [G_CODE]
    assert g.global_code_set == frozenset({G_CODE})
    assert pages(g.data_pages) == [32, 33, G_DATA]
    assert pages(g.global_data) == [G_DATA]
    assert pages(g.private_data) == [32, 33]


def test_a_trace_without_loads_names_its_code_pages_for_data_maintenance(tmp_path: Path) -> None:
    """A trace of fetches only (pages 16 and 17): a by-VA TLBI has no data page to name, so it
    names one of the pages the stream touches, 16 or 17; none is global."""
    g = group(tmp_path, "I  00010000,4\nI  00011040,4\n")
    assert pages(g.data_pages) == [16, 17]
    assert pages(g.code_pages) == [16, 17]
    assert pages(g.private_data) == [16, 17]
    assert g.global_data.size == 0 and g.global_code_set == frozenset()


def test_a_trace_without_fetches_names_its_data_pages_for_icache_maintenance(
    tmp_path: Path,
) -> None:
    """A trace of loads only (page 32 and kernel page G_DATA): by-VA I-cache maintenance names
    one of the pages the stream touches; the kernel one is global data, not global code."""
    g = group(tmp_path, " L 00020000,8\n L 800000021080,8\n")
    assert pages(g.code_pages) == [32, G_DATA]
    assert pages(g.data_pages) == [32, G_DATA]
    assert pages(g.global_data) == [G_DATA]
    assert g.global_code_set == frozenset()


def test_a_model_stream_is_drawn_from_the_seed_it_is_given(tmp_path: Path) -> None:
    """Without a trace the stream is the guest kind's model, generated from the seed the run
    gives the group: the same seed, the same stream (determinism); another seed, another."""
    one = group(tmp_path, None, seed=1).stream.lines
    assert np.array_equal(one, group(tmp_path, None, seed=1).stream.lines)
    assert not np.array_equal(one, group(tmp_path, None, seed=2).stream.lines)
    assert not np.array_equal(one, group(tmp_path, None, seed=0).stream.lines)
