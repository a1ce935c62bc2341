"""Tables that fit the terminal they are printed in, and never cut a name or a verdict.

A :class:`Grid` is rendered in the first layout that fits the available width:

1. every column, full headers;
2. every column, with the short headers the columns offer, and a legend under the table;
3. short headers, and the columns not marked ``keep`` hidden from the right until the table
   fits, with one line naming what is hidden and how to see it (``--wide``, ``--json``);
4. stacked: one block per row (or the grid's own ``stacked`` layout), wrapped at the width.

Nothing is ever truncated: a layout is only chosen if every line of it fits, and the cells are
rendered at their natural width. The available width is ``COLUMNS`` when set, else the
terminal's; output to a pipe or a file (no terminal, no ``COLUMNS``) and ``--wide`` get
layout 1, complete, however wide.
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from io import StringIO
from typing import Literal

from rich import box as boxes
from rich.box import Box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .common import console as stdout_console

Cell = str | Text
Justify = Literal["left", "right"]


@dataclass(frozen=True)
class Column:
    """One column: its header, how it is justified, whether it may be hidden."""

    header: str
    justify: Justify = "left"
    keep: bool = False
    """Shown in every layout (a name, a verdict, the answer): never hidden."""
    short: str | None = None
    """A shorter header for narrow terminals; the legend under the table gives ``header``."""


@dataclass
class Grid:
    """A table to print: columns, rows of cells (str or styled rich Text), a title."""

    columns: list[Column]
    title: str = ""
    rows: list[list[Cell]] = field(default_factory=list)
    box: Box | None = boxes.HEAVY_HEAD
    hidden_hint: str = "--wide shows them"
    """What the 'hidden' line tells the reader to do to see hidden columns."""
    stacked: Callable[[int], list[Text]] | None = None
    """The grid's own narrow layout (given the width); default: one block per row."""

    def add_row(self, *cells: Cell) -> None:
        """Append a row (one cell per column)."""
        if len(cells) != len(self.columns):
            raise ValueError(f"expected {len(self.columns)} cells, got {len(cells)}")
        self.rows.append(list(cells))


def matrix_grid(
    title: str,
    corner: str,
    rows: Sequence[str],
    cols: Sequence[str],
    cell: Callable[[str, str], Cell],
    box: Box | None = boxes.HEAVY_HEAD,
) -> Grid:
    """A ``rows`` × ``cols`` matrix (e.g. policy × guest kind → verdict). Narrow layouts:
    the columns lettered a, b, … with a legend; then one block per column listing the rows
    that share each cell value (``UNSAFE (7): none, last-vcpu-ran``)."""
    letters = [letter(i) for i in range(len(cols))]
    g = Grid(
        [Column(corner, keep=True)]
        + [Column(c, keep=True, short=x) for c, x in zip(cols, letters, strict=True)],
        title=title,
        box=box,
    )
    for r in rows:
        g.add_row(r, *(cell(r, c) for c in cols))

    def by_column(width: int) -> list[Text]:
        out: list[Text] = []
        for j, c in enumerate(cols, start=1):
            out.append(Text(c, style="bold"))
            groups: dict[str, tuple[Cell, list[str]]] = {}
            for row in g.rows:
                key = _as_text(row[j]).plain
                groups.setdefault(key, (row[j], []))[1].append(_as_text(row[0]).plain)
            pad = max(len(k) for k in groups) + 1
            for key in sorted(groups, key=_natural):
                styled, names = groups[key]
                head = Text("  ") + _as_text(styled) + Text(":" + " " * (pad - len(key)))
                items = [n + "," for n in names[:-1]] + names[-1:]
                body = wrap_items(items, width, indent=" " * (2 + pad + 1), sep=" ")
                out.append(head + Text(body[0].lstrip(" ")))
                out += [Text(b) for b in body[1:]]
        return out

    g.stacked = by_column
    return g


def verdict_cell(safe: bool | None, actions: int | None = None) -> Text:
    """``safe`` (green), ``UNSAFE`` (red; ``UNSAFE (n)`` with the counterexample's length)
    or ``unknown``."""
    if safe is None:
        return Text("unknown")
    if safe:
        return Text("safe", style="green")
    return Text("UNSAFE" + (f" ({actions})" if actions is not None else ""), style="red")


def _natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders ``UNSAFE (9)`` before ``UNSAFE (10)``."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text)
    )


def letter(i: int) -> str:
    """a, b, …, z, aa, ab, …"""
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(ord("a") + r) + s
    return s


def available_width(console: Console | None = None) -> int | None:
    """``COLUMNS`` when set to a positive number, else the terminal's width; None (no limit)
    when printing to a pipe or a file."""
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    con = console or stdout_console
    return con.size.width if con.is_terminal else None


def _render(renderable: Table, console: Console, width: int = 100_000) -> list[Text]:
    """``renderable`` at its natural width (up to ``width``), as styled lines."""
    buf = Console(
        file=StringIO(),
        width=width,
        color_system=console.color_system,  # type: ignore[arg-type]
        force_terminal=console.is_terminal,
        highlight=False,
        legacy_windows=False,
    )
    lines = buf.render_lines(renderable, buf.options.update(width=width), pad=False)
    out = []
    for segs in lines:
        t = Text()
        for s in segs:
            if not s.control:
                t.append(s.text, s.style)
        t.rstrip()
        out.append(t)
    while out and not out[-1].plain:
        out.pop()
    while out and not out[0].plain:
        out.pop(0)
    return out


def _table(grid: Grid, cols: Sequence[int], short: bool) -> Table:
    t = Table(box=grid.box, show_edge=grid.box is not None, pad_edge=grid.box is not None)
    for i in cols:
        c = grid.columns[i]
        head = c.short if short and c.short else c.header
        t.add_column(head, justify=c.justify, no_wrap=True, overflow="fold")
    for row in grid.rows:
        t.add_row(*(row[i] for i in cols))
    return t


def _width(lines: Sequence[Text]) -> int:
    return max((ln.cell_len for ln in lines), default=0)


def wrap_items(items: Sequence[str], width: int, indent: str = "", sep: str = ", ") -> list[str]:
    """Join ``items`` with ``sep`` into lines of at most ``width`` cells (each after
    ``indent``), breaking only between items: an item longer than a line gets a line of its
    own and is never cut."""
    lines: list[str] = []
    cur = ""
    mark = sep.rstrip()
    joiner = sep[len(mark) :]
    for i, item in enumerate(items):
        piece = item + (mark if i < len(items) - 1 else "")
        cand = f"{cur}{joiner}{piece}" if cur else piece
        if cur and len(indent) + len(cand) > width:
            lines.append(indent + cur)
            cur = piece
        else:
            cur = cand
    if cur:
        lines.append(indent + cur)
    return lines


def _legend(grid: Grid, cols: Sequence[int], width: int) -> list[Text]:
    pairs = [
        f"{grid.columns[i].short} = {grid.columns[i].header}"
        for i in cols
        if grid.columns[i].short and grid.columns[i].short != grid.columns[i].header
    ]
    return [Text(s) for s in wrap_items(pairs, width)]


def _stacked_rows(grid: Grid, width: int) -> list[Text]:
    """One block per row: the first column's cell, then ``header: cell`` items, wrapped."""
    out: list[Text] = []
    first = grid.columns[0].header
    for row in grid.rows:
        out.append(Text(f"{first}: ") + _as_text(row[0]))
        items = [
            f"{c.header}: {_as_text(v).plain}"
            for c, v in zip(grid.columns[1:], row[1:], strict=True)
        ]
        out += [Text(s) for s in wrap_items(items, width, indent="  ", sep="   ")]
    return out


def _as_text(cell: Cell) -> Text:
    return cell if isinstance(cell, Text) else Text(cell)


def layout(grid: Grid, width: int | None, console: Console | None = None) -> tuple[str, list[Text]]:
    """The layout that fits ``width`` (None: no limit) and its lines: ("full" | "short" |
    "hidden" | "stacked", lines). The title is the first line."""
    con = console or stdout_console
    title = [Text(grid.title)] if grid.title else []
    every = list(range(len(grid.columns)))
    full = _render(_table(grid, every, short=False), con)
    if width is None or _width(full) <= width:
        return "full", title + full
    has_short = any(c.short for c in grid.columns)
    if has_short:
        lines = _render(_table(grid, every, short=True), con)
        legend = _legend(grid, every, width)
        if _width(lines) <= width and _width(legend) <= width:
            return "short", title + lines + legend
    cols = list(every)
    hidden: list[int] = []
    while True:
        drop = next((i for i in reversed(cols) if not grid.columns[i].keep), None)
        if drop is None:
            break
        cols.remove(drop)
        hidden.insert(0, drop)
        lines = _render(_table(grid, cols, short=has_short), con)
        legend = _legend(grid, cols, width) if has_short else []
        if _width(lines) <= width and _width(legend) <= width:
            names = [grid.columns[i].header + "," for i in hidden]
            names[0] = f"not shown at {width} columns: {names[0]}"
            names[-1] = names[-1][:-1]
            note = wrap_items([*names, f"({grid.hidden_hint})"], width, sep=" ")
            return "hidden", title + lines + legend + [Text(s) for s in note]
    stacked = grid.stacked(width) if grid.stacked is not None else _stacked_rows(grid, width)
    return "stacked", title + stacked


def prose(text: str, indent: str = "", console: Console | None = None) -> None:
    """Print a paragraph word-wrapped at the available width (as is to a pipe), later lines
    indented by ``indent``."""
    con = console or stdout_console
    limit = available_width(con)
    if limit is None or len(text) <= limit:
        con.print(text, markup=False, soft_wrap=True)
        return
    wrapped = textwrap.fill(
        text, limit, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False
    )
    con.print(wrapped, markup=False, soft_wrap=True)


def prose_table(
    columns: Sequence[tuple[str, Justify, bool]],
    rows: Sequence[Sequence[Cell]],
    header: bool = True,
) -> Table:
    """A borderless table whose ``(header, justify, wraps)`` columns marked ``wraps`` (prose:
    descriptions, sources) word-wrap to fit the console's width and the others (names,
    figures) never wrap nor shrink. Print it with ``console.print``."""
    t = Table(box=boxes.SIMPLE_HEAD, show_edge=False, pad_edge=False, show_header=header)
    for head, just, wraps in columns:
        t.add_column(
            head, justify=just, no_wrap=not wraps, overflow="fold", ratio=1 if wraps else None
        )
    for row in rows:
        t.add_row(*row)
    return t


def show(
    grid: Grid,
    *,
    wide: bool = False,
    width: int | None = -1,
    console: Console | None = None,
) -> str:
    """Print ``grid`` in the first layout that fits; returns the layout's name.

    ``width`` -1 (default) means :func:`available_width`; ``wide`` prints every column
    whatever the width."""
    con = console or stdout_console
    limit = available_width(con) if width == -1 else width
    name, lines = layout(grid, None if wide else limit, con)
    for ln in lines:
        con.print(ln, soft_wrap=True)
    return name
