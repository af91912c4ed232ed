"""Bundles view: what a signed bundle claims, whether its signature verifies, and how two versions differ."""
