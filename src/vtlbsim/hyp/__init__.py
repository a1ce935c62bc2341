"""vtlbsim.hyp."""
