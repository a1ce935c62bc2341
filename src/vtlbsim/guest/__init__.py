"""vtlbsim.guest."""
