"""Explain view: one call, decided by the real engine, with the deciding rule and the sanitized result."""
