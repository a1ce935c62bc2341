"""vtlbsim.study."""
