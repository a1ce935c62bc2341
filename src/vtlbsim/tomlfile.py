"""One home for reading vtlbsim's TOML files (litmus, workloads, studies, profiles): a syntax
error or a validation error becomes one line naming the file, the line and the field."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

_AT = re.compile(r"\s*\(at (line (\d+), column \d+|end of document)\)")


def syntax_error(exc: tomllib.TOMLDecodeError, text: str) -> tuple[int | None, str]:
    """The line a TOML syntax error is on (the last line at the end of the document), and the
    message without its position."""
    m = _AT.search(str(exc))
    line = None
    if m is not None:
        line = int(m.group(2)) if m.group(2) else max(1, len(text.splitlines()))
    return line, "not valid TOML: " + _AT.sub("", str(exc))


def read(path: Path, what: str, error: Callable[[str], Exception]) -> str:
    """The text of ``path``; a file that cannot be read or is not UTF-8 text raises
    ``error("PATH: cannot read WHAT: REASON")`` / ``error("PATH: not a text file (expected a
    WHAT in UTF-8 TOML)")``."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read {what}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not a text file (expected a {what} in UTF-8 TOML)") from None


def loads(text: str, where: str, error: Callable[[str], Exception]) -> dict[str, Any]:
    """Decode ``text``; a syntax error raises ``error("WHERE[:LINE]: not valid TOML: ...")``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, msg = syntax_error(exc, text)
        raise error(f"{where}:{line}: {msg}" if line else f"{where}: {msg}") from None


def dotted(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as a field path: ``domains[2].kind``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"
