"""Fingerprints of what a verdict depends on, the same under every Python version.

A verdict depends on the checker's core (engine, oracle, architecture, guest model, policy
interface, the search), on the guest kind's discipline and on the policy's own code, and on
the options of the check. Each part is hashed apart, so changing one policy invalidates only
its column and changing one kind only its row (``matrix.pair_fingerprint``).

Source files are hashed as *code text*: the lines of the file without comments, docstrings,
trailing blanks and empty lines. Comments come from ``tokenize`` and docstrings from ``ast``
line numbers, both of which every supported Python (3.11 to 3.13) reports alike; the syntax
tree itself is not hashed, because its dump differs between versions. This module uses only
the standard library, so a test can run it under each interpreter installed.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import io
import tokenize
from collections.abc import Iterable
from pathlib import Path


def code_text(source: str) -> str:
    """``source`` without comments, docstrings and blank lines: prose and layout do not change
    what the code does. (A docstring that shares a line with code is kept.)"""
    lines = source.splitlines()
    drop: set[int] = set()  # 0-based line numbers of docstrings standing on their own lines
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        body = node.body
        if not (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            continue
        doc = body[0]
        first, last = doc.lineno - 1, (doc.end_lineno or doc.lineno) - 1
        alone = lines[first].lstrip()[:1] in ("'", '"', "r", "b", "u", "f")
        after = len(body) < 2 or body[1].lineno - 1 > last
        if alone and after and lines[last].rstrip().endswith(("'", '"')):
            drop.update(range(first, last + 1))
    cut: dict[int, int] = {}  # 0-based line -> column where a comment starts
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            cut[tok.start[0] - 1] = tok.start[1]
    out = []
    for i, line in enumerate(lines):
        if i in drop:
            continue
        if i in cut:
            line = line[: cut[i]]
        line = line.rstrip()
        if line:
            out.append(line)
    return "\n".join(out)


def _origin(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def imported_files(path: Path, module: str) -> set[Path]:
    """The source files of the modules ``path`` (module ``module``) imports from its own
    top-level package: relative imports, and absolute ones that start with that package."""
    top = module.split(".")[0]
    package = module.rpartition(".")[0] if path.name != "__init__.py" else module
    found: set[Path] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                try:
                    base = importlib.util.resolve_name(
                        "." * node.level + (node.module or ""), package
                    )
                except ImportError:
                    continue
            elif node.module and node.module.split(".")[0] == top:
                base = node.module
            else:
                continue
            names = [base, *(f"{base}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.split(".")[0] == top]
        for name in names:
            origin = _origin(name)
            if origin is not None:
                found.add(origin)
    return found


def module_closure(modules: Iterable[str]) -> dict[Path, str]:
    """The files of ``modules`` and of every module of their own packages they import,
    transitively, with their dotted names."""
    todo = [(m, _origin(m)) for m in modules]
    seen: dict[Path, str] = {}
    while todo:
        name, f = todo.pop()
        if f is None or f in seen:
            continue
        seen[f] = name
        for g in imported_files(f, name):
            if g not in seen:
                todo.append((_module_name(g, f, name), g))
    return seen


def digest_modules(files: dict[Path, str]) -> str:
    """SHA-256 over the code text of ``files``, each named by its module, in sorted order."""
    h = hashlib.sha256()
    for f, name in sorted(files.items(), key=lambda x: x[1]):
        h.update(name.encode())
        h.update(b"\0")
        h.update(code_text(f.read_text(encoding="utf-8")).encode())
        h.update(b"\0")
    return h.hexdigest()


def _module_name(target: Path, source: Path, source_module: str) -> str:
    """The dotted name of ``target`` given that ``source`` is ``source_module``."""
    root = source.parent
    parts = source_module.split(".")
    depth = len(parts) - (0 if source.name == "__init__.py" else 1)
    for _ in range(depth):
        root = root.parent
    rel = target.relative_to(root).with_suffix("").parts
    return ".".join(rel[:-1] if rel[-1] == "__init__" else rel)
