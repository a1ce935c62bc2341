"""`my-flush`: the README's own-policy example, runnable as it is written.

From a checkout: ``vtlbsim litmus FILE --policy examples/policy-package/mypkg/mod.py:FlushWhenMoved``.
Installed (``pip install -e examples/policy-package``): ``--policy mypkg.mod:FlushWhenMoved``, or
``--policy my-flush``, and ``vtlbsim policies`` lists it (entry point ``vtlbsim.policies``).
"""

from vtlbsim.hyp.policy import NO_FLAGS, Policy, flush_tlb_ic


class FlushWhenMoved(Policy):
    name = "my-flush"
    summary = "flush the VMID and the I-cache when the vCPU changes pCPU"

    def hcr(self, vcpu):
        return NO_FLAGS

    def on_load(self, load):
        return flush_tlb_ic(load.vcpu.arch) if load.migrated else ()
