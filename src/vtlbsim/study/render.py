"""Writing the report as Markdown (figures linked) and as one self-contained HTML page
(figures inlined as SVG, no external file or network access).

The report is a list of :class:`Section`, each a title and blocks (paragraphs, bullet lists,
tables, figures); both writers render the same list, so a new section (say, a sensitivity
analysis) is one more :class:`Section` in ``report.SECTIONS``' output and appears in both.
Text may hold Markdown code spans (`` `name` ``); the HTML writer turns them into ``<code>``.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Para:
    """A paragraph."""

    text: str


@dataclass
class Bullets:
    """A bullet list."""

    items: list[str]


@dataclass
class Table:
    """A table: ``numeric`` columns right-aligned; ``flagged`` cells (row, column) shown in
    red in HTML (an unsafe policy, a figure outside the model's validity)."""

    header: list[str]
    rows: list[list[str]]
    numeric: set[int] = field(default_factory=set)
    flagged: set[tuple[int, int]] = field(default_factory=set)
    css: str = ""


@dataclass
class Figure:
    """A figure written as ``png`` and ``svg`` (same stem), its caption, and what it shows
    that is not on its axes, in words (out-of-range crossovers)."""

    png: Path
    svg: Path
    caption: str
    words: list[str] = field(default_factory=list)


@dataclass
class Section:
    """A titled part of the report."""

    title: str
    blocks: list[Para | Bullets | Table | Figure]
    level: int = 2
    anchor: str = ""


# ---- Markdown -------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def _md_block(b: Para | Bullets | Table | Figure, out_dir: Path) -> list[str]:
    if isinstance(b, Para):
        return [b.text, ""]
    if isinstance(b, Bullets):
        return [f"- {x}" for x in b.items] + [""]
    if isinstance(b, Table):
        lines = [
            "| " + " | ".join(_md_cell(h) for h in b.header) + " |",
            "| "
            + " | ".join("---:" if i in b.numeric else "---" for i in range(len(b.header)))
            + " |",
        ]
        lines += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in b.rows]
        return lines + [""]
    rel = b.png.relative_to(out_dir).as_posix()
    svg = b.svg.relative_to(out_dir).as_posix()
    out = [f"![{b.png.stem}]({rel})", "", f"*{b.caption}* ([SVG]({svg}))", ""]
    return out + [f"> {w}" for w in b.words] + ([""] if b.words else [])


def write_markdown(path: Path, title: str, intro: list[str], sections: list[Section]) -> Path:
    """``report.md``: every section, figures linked as PNG (with their SVG)."""
    out = [f"# {title}", ""]
    for p in intro:
        out += [p, ""]
    for s in sections:
        out += ["#" * s.level + " " + s.title, ""]
        for b in s.blocks:
            out += _md_block(b, path.parent)
    path.write_text("\n".join(out), encoding="utf-8")
    return path


# ---- HTML -----------------------------------------------------------------------------------

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0}td,th{border:1px solid #ccc;padding:.3em .6em}
th{background:#f3f3f3}td.n{text-align:right;white-space:nowrap}td.bad{color:#b00}
figure{margin:1.5em 0}figcaption{font-style:italic;font-size:.9em}
svg{max-width:100%;height:auto}code{background:#f3f3f3}
.scroll{overflow-x:auto;max-width:100%}
blockquote{margin:.5em 0 .5em 1em;padding-left:.8em;border-left:3px solid #bbb}
section.rests{background:#fff8e6;border:1px solid #f0d9a0;padding:.2em 1em;margin:1em 0}
"""


def _inline(text: str) -> str:
    """Escape, then Markdown code spans and bold to HTML."""
    t = html.escape(text)
    t = re.sub(r"`([^`]+)`", r"<code>\1</code>", t)
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", t)


def _inline_svg(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    start = text.find("<svg")
    return text[start:] if start >= 0 else ""


def _html_block(b: Para | Bullets | Table | Figure) -> str:
    if isinstance(b, Para):
        return f"<p>{_inline(b.text)}</p>"
    if isinstance(b, Bullets):
        return "<ul>" + "".join(f"<li>{_inline(x)}</li>" for x in b.items) + "</ul>"
    if isinstance(b, Table):
        head = "".join(f"<th>{_inline(h)}</th>" for h in b.header)
        rows = []
        for i, r in enumerate(b.rows):
            cells = []
            for j, c in enumerate(r):
                cls = " ".join(
                    x for x, on in (("n", j in b.numeric), ("bad", (i, j) in b.flagged)) if on
                )
                cells.append(
                    f'<td class="{cls}">{_inline(c)}</td>' if cls else f"<td>{_inline(c)}</td>"
                )
            rows.append("<tr>" + "".join(cells) + "</tr>")
        cls = f' class="{b.css}"' if b.css else ""
        return f'<div class="scroll"><table{cls}><tr>{head}</tr>{"".join(rows)}</table></div>'
    words = "".join(f"<blockquote>{_inline(w)}</blockquote>" for w in b.words)
    return (
        f'<figure id="fig-{html.escape(b.svg.stem)}">{_inline_svg(b.svg)}'
        f"<figcaption>{_inline(b.caption)}</figcaption></figure>{words}"
    )


def write_html(path: Path, title: str, intro: list[str], sections: list[Section]) -> Path:
    """``report.html``: one file, figures inlined as SVG, the same sections as report.md."""
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{_inline(title)}</h1>",
    ]
    out += [f"<p>{_inline(p)}</p>" for p in intro]
    for s in sections:
        tag = f"h{s.level}"
        cls = f' class="{s.anchor}"' if s.anchor else ""
        out.append(f"<section{cls}><{tag}>{_inline(s.title)}</{tag}>")
        out += [_html_block(b) for b in s.blocks]
        out.append("</section>")
    out.append("</body></html>")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path
