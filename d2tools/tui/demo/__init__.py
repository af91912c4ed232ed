"""``d2 tui --demo``: an example policy and a simulated agent making allowed and refused calls."""
