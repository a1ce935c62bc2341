"""`vtlbsim trace import IN OUT`: convert a Valgrind lackey trace to the compact .npz format."""

from __future__ import annotations

from pathlib import Path

import typer

from ..guest.workload import LINES_PER_PAGE, TraceError, load_trace, save_npz
from .common import app, console, fail

trace_app = typer.Typer(
    help="Access traces for exact mode (Valgrind lackey text, compact .npz).",
    no_args_is_help=False,
)
app.add_typer(trace_app, name="trace")


@trace_app.command("import")
def import_(
    source: Path = typer.Argument(..., help="A lackey --trace-mem=yes log (or an .npz trace)."),
    out: Path = typer.Argument(..., help="The .npz file to write."),
) -> None:
    """Read SOURCE (lackey text, or .npz) and write it as a compact .npz trace to OUT."""
    if out.suffix != ".npz":
        fail(f"{out}: expected an output path ending in .npz")
    try:
        stream = load_trace(source)
    except TraceError as exc:
        fail(str(exc))
    try:
        save_npz(stream, out)
    except OSError as exc:
        fail(f"{out}: cannot write trace: {exc.strerror}")
    n = len(stream)
    fetches = int((stream.flags & 1).astype(bool).sum())
    pages = len(set((stream.lines // LINES_PER_PAGE).tolist()))
    console.print(
        f"{out}: {n} references ({fetches} fetches, {n - fetches} data), {pages} pages,"
        f" {out.stat().st_size} bytes",
        markup=False,
    )


@trace_app.command("show")
def show(
    source: Path | None = typer.Argument(None, help="A trace (.npz or lackey text)."),
    kind: str | None = typer.Option(
        None, "--kind", help="Show a guest kind's model stream instead."
    ),
    references: int = typer.Option(1 << 22, "--references", min=1, help="Model stream length."),
    platform: str = typer.Option("thunderx-cn8890-2s", "--platform", help="TLB/I-cache geometry."),
) -> None:
    """Locality of a trace (or of a kind's model): fetch share, pages, and the hit rates of one
    pCPU's TLBs and I-cache (platform geometry) replaying it once."""
    import numpy as np

    from ..cost.exact import geometry_of
    from ..cost.platform import PlatformError, load_platform
    from ..guest.rates import RatesError, load_rates
    from ..guest.workload import stream_for
    from ..sim import fastpath as fp
    from ..sim.fasttlbs import FastTlbs

    if (source is None) == (kind is None):
        fail("trace show: expected a trace file or --kind KIND (one of them)")
    try:
        plat = load_platform(platform)
        if kind is not None:
            stream = stream_for(load_rates(kind), references, 0)
            name = f"model of {kind}"
        else:
            assert source is not None
            stream = load_trace(source)
            name = str(source)
    except (TraceError, PlatformError, RatesError) as exc:
        fail(str(exc))
    tlbs = FastTlbs(1, geometry_of(plat))
    tlbs.run(0, 1, 1, stream.lines, stream.flags, 0, len(stream))
    c = tlbs.counters[0]
    n = int(c[fp.C_REFS])
    walks = int(c[fp.C_WALK : fp.C_WALK + fp.N_REASONS].sum())
    icm = int(c[fp.C_IC_MISS : fp.C_IC_MISS + fp.N_REASONS].sum())
    pages = int(np.unique(stream.lines // LINES_PER_PAGE).shape[0])
    fetches = int(c[fp.C_FETCHES])
    console.print(
        f"{name}: {n} references, fetch share {fetches / n:.3f}, {pages} pages;"
        f" on {plat.name}: L1 TLB hit {c[fp.C_L1_HIT] / n:.4f}, L2 hit {c[fp.C_L2_HIT] / n:.4f},"
        f" walks {walks} ({walks / n:.2e}/ref), I-cache misses {icm}"
        f" ({icm / max(fetches, 1):.2e}/fetch)",
        markup=False,
    )
