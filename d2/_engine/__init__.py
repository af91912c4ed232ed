"""Pure decisions on a compiled policy and a request state: no I/O, no clock of its own."""
