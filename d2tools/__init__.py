"""d2tools: the developer toolchain for d2 (CLI, scanner, linter, scenario runner, TUI, control plane)."""
