"""The one error a litmus file can produce."""

from __future__ import annotations


class LitmusError(ValueError):
    """A malformed litmus file: ``str()`` is the one-line message ``FILE[:LINE]: what was expected``."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path, self.line, self.message = path, line, message
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")
