"""Coverage overlay: which rules no ``d2 test`` scenario exercised, marked in the policy view."""
