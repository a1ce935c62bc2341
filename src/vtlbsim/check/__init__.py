"""vtlbsim.check."""
