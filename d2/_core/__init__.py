"""Data shared by the language, the engine and the runtime: the compiled policy and request state."""
