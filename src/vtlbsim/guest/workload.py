"""Access streams for exact mode: a working-set/locality model per guest kind, and real traces.

A stream is two arrays: ``lines`` (the 64-byte line of each reference, i.e. its virtual byte
address >> 6; the 4 KiB page is ``line >> 6``) and ``flags`` (``F_FETCH`` for an instruction
fetch, ``F_GLOBAL`` for a page mapped global (nG=0, the kernel), ``F_STORE`` for a store).

**The working-set model** (``StreamModel``, ``model_for``, ``generate``). A vCPU's references are
runs: a run picks a page and touches consecutive lines in it (geometric length, mean
``run_lines``). Code runs pick one of ``code_pages`` pages and data runs one of ``data_pages``,
by a Zipf law of exponent ``zipf_s`` (rank 1 most popular), except that a share
``seq_fraction`` of data runs continue a sequential sweep over the data region (streaming
phases). A share ``global_fraction`` of the pages of each region is kernel memory (global).
Sizes come from the kind's rates (``guest/rates.py``): ``tlb_working_set_pages`` pages in all,
of which ``icache_working_set_kib / 4`` are code; ``shared_fraction`` is the global share. The
locality figures (``zipf_s``, ``seq_fraction``, ``run_lines``, ``fetch_fraction``) are
assumptions, checked against the two shipped traces in docs/exact.md.

**Traces**. ``read_lackey`` reads Valgrind ``--tool=lackey --trace-mem=yes`` output: lines
``I  ADDR,SIZE`` (fetch), `` L ADDR,SIZE`` (load), `` S ADDR,SIZE`` (store), `` M ADDR,SIZE``
(modify: one reference, flagged as a store) and ``==PID==`` comments; anything else is an
error naming the file and line. ``save_npz``/``load_npz`` keep a stream compactly (numpy
``.npz``: ``format``, delta-coded ``line_delta``, ``flags``, ``source``).
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .rates import GuestRates

F_FETCH = 1
F_GLOBAL = 2
F_STORE = 4
LINES_PER_PAGE = 64
NPZ_FORMAT = "vtlbsim-trace-1"
KERNEL_VA = 1 << 47
"""Addresses at or above this (the arm64 kernel half, TTBR1) are mapped global."""


class TraceError(ValueError):
    """A malformed trace; ``str()`` is one line naming the file (and line or field)."""


@dataclass(frozen=True, slots=True)
class AccessStream:
    """References of one vCPU: 64-byte lines and flags (same length)."""

    lines: np.ndarray
    flags: np.ndarray
    source: str = ""

    def __len__(self) -> int:
        return int(self.lines.shape[0])

    def pages(self) -> int:
        """Distinct 4 KiB pages referenced."""
        return int(np.unique(self.lines // LINES_PER_PAGE).shape[0])

    def fetch_share(self) -> float:
        """The share of references that are instruction fetches."""
        n = len(self)
        return float(np.count_nonzero(self.flags & F_FETCH)) / n if n else 0.0


@dataclass(frozen=True, slots=True)
class StreamModel:
    """The working-set/locality model of one guest kind (see the module docstring)."""

    code_pages: int
    data_pages: int
    global_fraction: float = 0.2
    zipf_s: float = 1.0
    seq_fraction: float = 0.1
    run_lines: float = 4.0
    fetch_fraction: float = 0.5


LOCALITY_ASSUMPTIONS: dict[str, str] = {
    "zipf_s": "1.0: page popularity in program traces is close to Zipf's law (assumption; "
    "docs/exact.md compares it with the gzip and sqlite3 traces)",
    "seq_fraction": "0.1: one data run in ten is part of a sequential sweep (assumption)",
    "run_lines": "4 lines per run: a reference run stays on one page for a few lines (assumption)",
    "fetch_fraction": "0.5: about half the references reaching the TLBs are fetches (assumption; "
    "the lackey traces give the real share)",
}


def model_for(rates: GuestRates) -> StreamModel:
    """A kind's model: its TLB working set split into code (I-cache footprint) and data pages."""
    total = max(2, int(round(rates.tlb_working_set_pages)))
    code = min(total - 1, max(1, math.ceil(rates.icache_working_set_kib / 4.0)))
    return StreamModel(
        code_pages=code, data_pages=total - code, global_fraction=rates.shared_fraction
    )


def _zipf_ranks(rng: np.random.Generator, n: int, size: int, s: float) -> np.ndarray:
    """``size`` draws of ranks 0..n-1 with P(k) proportional to 1/(k+1)^s."""
    weights = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** s
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), n - 1)


def generate(model: StreamModel, n: int, seed: int = 0, base_page: int = 0x400) -> AccessStream:
    """``n`` references drawn from ``model`` (deterministic in ``seed``).

    Layout: code pages from ``base_page``, data pages after them; the last ``global_fraction``
    of each region is kernel memory (flagged global). Runs are whole: the stream is cut at ``n``.
    """
    if n <= 0:
        return AccessStream(np.zeros(0, np.int64), np.zeros(0, np.uint8), "model")
    rng = np.random.default_rng(seed)
    nruns = int(n / model.run_lines) + 2
    lengths = rng.geometric(1.0 / model.run_lines, nruns)
    while int(lengths.sum()) < n:  # rare: extend until the runs cover n references
        lengths = np.concatenate([lengths, rng.geometric(1.0 / model.run_lines, nruns)])
        nruns = lengths.shape[0]
    fetch = rng.random(nruns) < model.fetch_fraction
    code_rank = _zipf_ranks(rng, model.code_pages, nruns, model.zipf_s)
    data_rank = _zipf_ranks(rng, model.data_pages, nruns, model.zipf_s)
    seq = (~fetch) & (rng.random(nruns) < model.seq_fraction)
    sweep = np.cumsum(seq) % model.data_pages
    # A random permutation spreads the popular ranks over the region's pages (and the sets).
    code_perm = rng.permutation(model.code_pages)
    data_perm = rng.permutation(model.data_pages)
    data_page = np.where(seq, sweep, data_perm[data_rank])
    page = np.where(fetch, code_perm[code_rank], model.code_pages + data_page)
    kernel_code = model.code_pages - int(round(model.code_pages * model.global_fraction))
    kernel_data = model.data_pages - int(round(model.data_pages * model.global_fraction))
    glob = np.where(fetch, page >= kernel_code, page - model.code_pages >= kernel_data)
    first_line = rng.integers(0, LINES_PER_PAGE, nruns)
    run_of = np.repeat(np.arange(nruns), lengths)[:n]
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    offset = np.arange(n) - starts[run_of]
    lines = (base_page + page[run_of]) * LINES_PER_PAGE + (first_line[run_of] + offset) % 64
    flags = np.where(fetch[run_of], F_FETCH, 0).astype(np.uint8)
    flags |= np.where(glob[run_of], F_GLOBAL, 0).astype(np.uint8)
    stores = (~fetch[run_of]) & (rng.random(n) < 0.3)
    flags |= np.where(stores, F_STORE, 0).astype(np.uint8)
    return AccessStream(lines.astype(np.int64), flags, "model")


def stream_for(rates: GuestRates, n: int, seed: int = 0) -> AccessStream:
    """``n`` references of a vCPU of this guest kind (its ``model_for`` model)."""
    return generate(model_for(rates), n, seed)


# ---- traces ----------------------------------------------------------------------------------
_KINDS = {"I": F_FETCH, "L": 0, "S": F_STORE, "M": F_STORE}


def read_lackey(path: str | Path, limit: int | None = None) -> AccessStream:
    """Parse Valgrind lackey ``--trace-mem=yes`` output (at most ``limit`` references).

    Raises TraceError ``FILE:LINE: expected ...`` on the first malformed line.
    """
    p = Path(path)
    lines: list[int] = []
    flags: list[int] = []
    try:
        fh = p.open("r", encoding="ascii", errors="replace")
    except OSError as exc:
        raise TraceError(f"{p}: cannot read trace: {exc.strerror}") from None
    with fh:
        for no, text in enumerate(fh, 1):
            if text.startswith("==") or not text.strip():
                continue
            kind = text[:2].strip()
            body = text[2:].strip()
            addr, comma, size = body.partition(",")
            flag = _KINDS.get(kind)
            if flag is None or not comma or len(text) < 3 or text[2] != " ":
                raise TraceError(
                    f"{p}:{no}: expected a lackey record 'I  ADDR,SIZE' or ' L|S|M ADDR,SIZE'"
                    f" (or a '==PID==' comment), got {text.strip()[:40]!r}"
                )
            try:
                a = int(addr, 16)
                if int(size) <= 0:
                    raise ValueError
            except ValueError:
                raise TraceError(
                    f"{p}:{no}: expected a hex address and a positive decimal size,"
                    f" got {body[:40]!r}"
                ) from None
            if a >= KERNEL_VA:
                flag |= F_GLOBAL
            lines.append(a >> 6)
            flags.append(flag)
            if limit is not None and len(lines) >= limit:
                break
    if not lines:
        raise TraceError(f"{p}: expected at least one lackey record, found none")
    return AccessStream(np.asarray(lines, np.int64), np.asarray(flags, np.uint8), p.name)


def save_npz(stream: AccessStream, path: str | Path) -> None:
    """Write ``stream`` as a compressed ``.npz`` (delta-coded lines)."""
    delta = np.diff(stream.lines, prepend=np.int64(0))
    with Path(path).open("wb") as fh:
        np.savez_compressed(
            fh,
            format=np.array(NPZ_FORMAT),
            line_delta=delta.astype(np.int64),
            flags=stream.flags.astype(np.uint8),
            source=np.array(stream.source),
        )


def load_npz(path: str | Path) -> AccessStream:
    """Read a stream written by ``save_npz``; TraceError naming the file and field if malformed."""
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as data:
            fields = set(data.files)
            for name in ("format", "line_delta", "flags"):
                if name not in fields:
                    raise TraceError(f"{p}: {name}: required array is missing")
            if str(data["format"]) != NPZ_FORMAT:
                raise TraceError(f"{p}: format: expected {NPZ_FORMAT!r}")
            delta = data["line_delta"]
            flags = data["flags"]
            source = str(data["source"]) if "source" in fields else p.name
    except TraceError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise TraceError(f"{p}: expected a vtlbsim .npz trace: {exc}") from None
    if delta.ndim != 1 or delta.dtype.kind not in "iu":
        raise TraceError(f"{p}: line_delta: expected a 1-D integer array")
    if flags.shape != delta.shape or flags.dtype != np.uint8:
        raise TraceError(f"{p}: flags: expected uint8 of the same length as line_delta")
    lines = np.cumsum(delta.astype(np.int64))
    if lines.shape[0] and int(lines.min()) < 0:
        raise TraceError(f"{p}: line_delta: lines must not be negative")
    return AccessStream(lines, flags, source)


def load_trace(path: str | Path) -> AccessStream:
    """A trace by suffix: ``.npz`` (compact) or anything else as lackey text."""
    return load_npz(path) if str(path).endswith(".npz") else read_lackey(path)
