"""Which branch-predictor reading a study's verdicts for AArch32 guests rest on, and what the
other readings would change (issue 10: "the report states which reading each platform uses and
what the other would change").

The Arm ARM leaves two things open for an AArch32 guest under an AArch64 hypervisor: whether
the predictors are architecturally visible at all (BPIALL "can execute as a NOP" where they are
not), and whether HCR_EL2.FB upgrades BPIALL (its field text lists it; the BPIALL pseudocode
upgrades only when EL2 is AArch32). Each platform profile picks one reading (``bp_visible``,
``bpiall_fb_upgrade``); docs/guests.md, "Branch predictors".
"""

from __future__ import annotations

from collections.abc import Iterable

from ..arch.ops import BP_READINGS, Arch
from .spec import DEFAULT_SAFETY, StudySpec


def reading_lines(spec: StudySpec, platforms: Iterable[str], policies: list[str]) -> list[str]:
    """One sentence per platform whose AArch32 guests' verdicts depend on the reading: the
    reading its profile uses, and for each other reading the (kind, policy) verdicts it flips."""
    if spec.safety != DEFAULT_SAFETY:
        return []
    from ..check.matrix import safe, subject
    from ..cost.platform import PlatformError, load_platform
    from ..guest.kinds import KindError, load_kind

    kinds: list[str] = []
    for mix in spec.mixes:
        for d in mix.domains:
            try:
                if load_kind(d.kind, spec.base_dir).arch is Arch.AARCH32 and d.kind not in kinds:
                    kinds.append(d.kind)
            except KindError:
                continue
    if not kinds:
        return []
    out: list[str] = []
    for name in dict.fromkeys(platforms):
        try:
            bp = load_platform(name, spec.base_dir).bp.normalised()
        except PlatformError:
            continue
        here = {(k, p): safe(subject(k, bp), p) for k in kinds for p in policies}
        changes: list[str] = []
        for other in BP_READINGS.values():
            if other == bp:
                continue
            flips: dict[tuple[str, bool], list[str]] = {}
            for (k, p), was in here.items():
                v = safe(subject(k, other), p)
                if v is not None and was is not None and v != was:
                    flips.setdefault((p, v), []).append(k)
            said = [
                f"`{p}` {'safe' if v else 'unsafe'} for {', '.join(ks)}"
                for (p, v), ks in flips.items()
            ]
            changes.append(
                f"under `{other.name}`: " + ("; ".join(said) if said else "no verdict changes")
            )
        out.append(
            f"AArch32 guests on {name}: branch predictors read as `{bp.name}` (its profile's "
            f"`bp_visible`, `bpiall_fb_upgrade`); {'; and '.join(changes)} "
            "(`vtlbsim check --matrix --bp-invisible` or `--bpiall-fb-upgrade`; "
            'docs/guests.md, "Branch predictors").'
        )
    return out
