"""vtlbsim.arch."""
