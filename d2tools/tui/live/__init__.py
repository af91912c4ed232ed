"""Live decisions: the JSONL decision log (followed across rotation) and the opt-in local stream."""
