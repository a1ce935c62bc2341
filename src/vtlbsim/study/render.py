"""Writing the report as Markdown (figures linked) and as one self-contained HTML page
(figures inlined as SVG, no external file or network access)."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

CAPTIONS = {
    "overhead": "Overhead vs pCPUs per policy, one panel per guest mix (dashed: unsafe for a guest of the mix).",
    "cost-to-others": "Cost to others: the share of the machine lost on cores that did not issue the maintenance.",
    "crossover": "Crossover: the migration rate above which the baseline becomes cheaper than the challenger.",
    "safety": "Safety matrix: guest kind × policy, from the model checker (SPEC §5).",
}


def _caption(path: Path) -> str:
    for k, v in CAPTIONS.items():
        if path.stem.startswith(k):
            return v
    return path.stem


def _cell(h: Any, p: str, fmt: Any) -> str:
    v = h.overhead.get(p)
    if v is None:
        return "–"
    s = h.safe.get(p)
    return str(fmt(v)) + ("" if s else (" (unsafe)" if s is False else " (?)"))


def _cross_cell(found: float | None, how: str, rates: list[float]) -> str:
    if how == "above":
        return f"> {rates[-1]:g}"
    if how == "below":
        return f"< {rates[0]:g}"
    return "–" if found is None else f"{found:.3g}"


def _cross_tables(ctx: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(platform, header, rows) of the crossover tables."""
    out = []
    for plat, mixes in ctx["crossovers"].items():
        ns = sorted({n for pts in mixes.values() for n, _, _ in pts})
        rows = []
        for mix, pts in mixes.items():
            at = {n: _cross_cell(f, how, ctx["rates"]) for n, f, how in pts}
            rows.append([mix] + [at.get(n, "–") for n in ns])
        out.append((plat, ["mix"] + [f"{n} pCPUs" for n in ns], rows))
    return out


def _axes_summary(ctx: dict[str, Any]) -> list[str]:
    spec = ctx["spec"]
    a = spec.axes
    mixes = [m.name for m in spec.mixes] + [Path(w).stem for w in a.workloads]
    return [
        f"platforms: {', '.join(a.platforms)}",
        f"pCPUs: {', '.join(str(n) for n in a.pcpus)}",
        f"guest mixes: {', '.join(mixes)}",
        f"policies: {', '.join(a.policies)}",
        f"migration rates (per vCPU-second): {', '.join(f'{r:g}' for r in a.migration_rates)}",
        f"seeds: {', '.join(str(s) for s in a.seeds)}; modes: {', '.join(a.modes)}; "
        f"scheduler {spec.fixed.scheduler}, timeslice {spec.timeslices[0]:g} ms, "
        f"{spec.fixed.duration_s:g} s simulated per point",
    ]


def write_markdown(path: Path, ctx: dict[str, Any]) -> Path:
    """``report.md``: the same content as the HTML page, figures linked as PNG."""
    spec, hs, pols, fmt = ctx["spec"], ctx["headlines"], ctx["policies"], ctx["fmt"]
    out = [f"# Study `{spec.name}`" + (f": {spec.title}" if spec.title else ""), ""]
    if spec.description:
        out += [spec.description.strip(), ""]
    out += [
        f"{ctx['rows']} seed-averaged points of model version `{ctx['version']}` "
        f"from `{spec.source}`. Rebuild with `vtlbsim report DIR`; query with "
        '`vtlbsim query DIR "SQL"`.',
        "",
    ]
    if hs:
        h0 = hs[0]
        out += [
            f"## Headline: overhead at {h0.pcpus} pCPUs, {ctx['rate']:g} migrations per vCPU-second",
            "",
            "| platform | mix | " + " | ".join(pols) + " | cheapest safe |",
            "| --- | --- | " + " | ".join("---:" for _ in pols) + " | --- |",
        ]
        for h in hs:
            out.append(
                f"| {h.platform} | {h.mix} | "
                + " | ".join(_cell(h, p, fmt) for p in pols)
                + f" | {h.best or '–'} |"
            )
        out += ["", "## Recommendation per guest mix", ""]
        out += [f"- **{h.mix}** ({h.platform}): {ctx['recommend'](h)}" for h in hs]
        out += [
            "",
            '"Cheapest safe" = the lowest overhead among the policies the model checker finds '
            "safe for every guest kind of the mix; the margin is over the next cheapest safe "
            "policy, at the headline point.",
            "",
        ]
    for plat, head, rows in _cross_tables(ctx):
        out += [
            f"## Crossover on {plat}: migrations per vCPU-second above which "
            f"`{ctx['base']}` is cheaper than `{ctx['chal']}`",
            "",
            "| " + " | ".join(head) + " |",
            "| --- | " + " | ".join("---:" for _ in head[1:]) + " |",
        ]
        out += ["| " + " | ".join(r) + " |" for r in rows] + [""]
    out += ["## Figures", ""]
    for title, files in ctx["sections"]:
        out += [f"### {title}", ""]
        for f in files:
            if f.suffix == ".png":
                rel = f.relative_to(ctx["out"]).as_posix()
                svg = rel[: -len(".png")] + ".svg"
                out += [f"![{f.stem}]({rel})", "", f"*{_caption(f)}* ([SVG]({svg}))", ""]
    out += ["## Assumptions the numbers rest on", ""]
    out += [f"- {a}" for a in ctx["assumptions"]] or ["- none: every figure has a source"]
    out += ["", "## The sweep", ""] + [f"- {s}" for s in _axes_summary(ctx)] + [""]
    path.write_text("\n".join(out), encoding="utf-8")
    return path


_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ccc;padding:.3em .6em}
th{background:#f3f3f3}td.n{text-align:right}td.bad{color:#b00}figure{margin:1.5em 0}
figcaption{font-style:italic;font-size:.9em}svg{max-width:100%;height:auto}code{background:#f3f3f3}
"""


def _inline_svg(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    start = text.find("<svg")
    return text[start:] if start >= 0 else ""


def write_html(path: Path, ctx: dict[str, Any]) -> Path:
    """``report.html``: one file, figures inlined as SVG."""
    e = html.escape
    spec, hs, pols, fmt = ctx["spec"], ctx["headlines"], ctx["policies"], ctx["fmt"]
    title = f"Study {spec.name}" + (f": {spec.title}" if spec.title else "")
    out = [
        "<!DOCTYPE html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>',
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{e(title)}</h1>",
    ]
    if spec.description:
        out.append(f"<p>{e(spec.description.strip())}</p>")
    out.append(
        f"<p>{ctx['rows']} seed-averaged points of model version <code>{e(ctx['version'])}</code> "
        f"from <code>{e(spec.source)}</code>.</p>"
    )
    if hs:
        h0 = hs[0]
        out.append(
            f"<h2>Headline: overhead at {h0.pcpus} pCPUs, {ctx['rate']:g} migrations per "
            "vCPU-second</h2><table><tr><th>platform</th><th>mix</th>"
            + "".join(f"<th>{e(p)}</th>" for p in pols)
            + "<th>cheapest safe</th></tr>"
        )
        for h in hs:
            cells = "".join(
                f'<td class="n{" bad" if h.safe.get(p) is False else ""}">{e(_cell(h, p, fmt))}</td>'
                for p in pols
            )
            out.append(
                f"<tr><td>{e(h.platform)}</td><td>{e(h.mix)}</td>{cells}"
                f"<td>{e(h.best or '–')}</td></tr>"
            )
        out.append("</table><h2>Recommendation per guest mix</h2><ul>")
        for h in hs:
            rec = e(ctx["recommend"](h))
            rec = re.sub(r"`([^`]+)`", r"<code>\1</code>", rec)
            out.append(f"<li><b>{e(h.mix)}</b> ({e(h.platform)}): {rec}</li>")
        out.append("</ul>")
    for plat, head, rows in _cross_tables(ctx):
        out.append(
            f"<h2>Crossover on {e(plat)}: migrations per vCPU-second above which "
            f"<code>{e(ctx['base'])}</code> is cheaper than <code>{e(ctx['chal'])}</code></h2>"
            "<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>"
        )
        for r in rows:
            out.append(
                f"<tr><td>{e(r[0])}</td>"
                + "".join(f'<td class="n">{e(c)}</td>' for c in r[1:])
                + "</tr>"
            )
        out.append("</table>")
    out.append("<h2>Figures</h2>")
    for sec, files in ctx["sections"]:
        out.append(f"<h3>{e(sec)}</h3>")
        for f in files:
            if f.suffix == ".svg":
                out.append(
                    f"<figure>{_inline_svg(f)}<figcaption>{e(_caption(f))}</figcaption></figure>"
                )
    out.append("<h2>Assumptions the numbers rest on</h2><ul>")
    out += [f"<li>{e(a)}</li>" for a in ctx["assumptions"]] or [
        "<li>none: every figure has a source</li>"
    ]
    out.append("</ul><h2>The sweep</h2><ul>")
    out += [f"<li>{e(s)}</li>" for s in _axes_summary(ctx)]
    out.append("</ul></body></html>")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path
