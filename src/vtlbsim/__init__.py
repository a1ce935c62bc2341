"""vtlbsim: TLB, I-cache and branch-predictor coherence for Arm hypervisors."""

__version__ = "0.1.0"
