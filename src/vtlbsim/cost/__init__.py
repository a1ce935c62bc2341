"""vtlbsim.cost."""
