"""An example vtlbsim policy plug-in (README, "Your own policy")."""
