"""The built-in policies (SPEC §4) and the profiles of shipping hypervisors, one file each."""

from ..policy import Policy
from .fb import ForceBroadcast
from .fb_last_vcpu_ran import FbLastVcpuRan
from .flush_1vcpu_only import Flush1VcpuOnly
from .flush_on_arrival import FlushOnArrival
from .flush_on_migrate import FlushOnMigrate
from .flush_on_switch import FlushOnSwitch
from .gunyah import Gunyah
from .hafnium import Hafnium
from .kvm import Kvm
from .last_vcpu_ran import LastVcpuRan
from .none import NonePolicy
from .trap_ttlb import TrapTtlb
from .xen import Xen
from .xvisor import Xvisor

BUILTIN: tuple[type[Policy], ...] = (
    NonePolicy,
    ForceBroadcast,
    FlushOnSwitch,
    FlushOnMigrate,
    Flush1VcpuOnly,
    LastVcpuRan,
    FbLastVcpuRan,
    FlushOnArrival,
    TrapTtlb,
)
"""The nine policies of SPEC §4, in table order."""

SHIPPING: tuple[type[Policy], ...] = (Xen, Kvm, Hafnium, Xvisor, Gunyah)
"""Profiles of shipping hypervisors, each as its source does it."""

__all__ = ["BUILTIN", "SHIPPING"]
