"""Where policies come from: discovery, local file + watcher, signed bundles, key sets, cloud."""
