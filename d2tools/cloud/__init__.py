"""The client side of the control plane: the CLI's HTTP client, credentials and device keys."""
