"""vtlbsim.sim."""
