"""d2's self-hostable control plane: signed policy bundles, drafts, publish, revoke, events (``d2 serve``)."""
