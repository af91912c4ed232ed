"""Leaf helpers every layer may use: diagnostics as data, the logger, did-you-mean."""
