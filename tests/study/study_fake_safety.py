"""A fast stand-in for ``vtlbsim.check.matrix.safe`` (the model checker takes seconds per
pair): local-maintenance (UP) guests are unsafe under ``trap-ttlb`` and ``flush-on-migrate``
is unknown for per-CPU tables; everything else is safe."""

from __future__ import annotations

CALLS: list[tuple[str, str]] = []


def safe(kind: str, policy: str) -> bool | None:
    """The verdict for one (guest kind, policy) pair."""
    CALLS.append((kind, policy))
    if kind.endswith("-up") and policy == "trap-ttlb":
        return False
    if kind == "percpu-tables" and policy == "flush-on-migrate":
        return None
    return True
