"""The vendor-API example app (examples/vendor_app) runs unchanged on d2 and uses only documented names."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).parents[2] / "examples" / "vendor_app" / "app.py"

# The public API the vendor SDK's documents (the seeds) list: the app may use nothing else.
SEED_API = {
    "d2_guard",
    "d2",
    "configure_rbac_async",
    "configure_rbac_sync",
    "shutdown_rbac",
    "shutdown_all_rbac",
    "get_policy_manager",
    "set_user",
    "set_user_context",
    "get_user_context",
    "clear_user_context",
    "warn_if_context_set",
    "run_as",
    "UserContext",
    "ASGIMiddleware",
    "headers_extractor",
    "clear_context",
    "clear_context_async",
    "threads",
    "submit_with_context",
    "thread_entrypoint",
    "get_facts",
    "has_fact",
    "has_any_fact",
    "record_fact",
    "PermissionDeniedError",
    "MissingPolicyError",
    "BundleExpiredError",
    "TooManyToolsError",
    "PolicyTooLargeError",
    "InvalidSignatureError",
    "ConfigurationError",
    "D2PlanLimitError",
    "D2Error",
    "D2NoContextError",
    "exceptions",
}


def test_vendor_app_runs_unchanged() -> None:
    proc = subprocess.run([sys.executable, str(APP)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 6 and all(line.startswith("ok ") for line in lines), proc.stdout


def test_vendor_app_uses_only_the_seed_documented_api() -> None:
    tree = ast.parse(APP.read_text())
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "d2":
            used.update(alias.name for alias in node.names)
            used.update(node.module.split(".")[1:])
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "d2":
            used.add(node.attr)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute):
            inner = node.value
            if isinstance(inner.value, ast.Name) and inner.value.id == "d2":
                used.add(node.attr)
    assert used, "the app uses d2"
    assert used <= SEED_API, sorted(used - SEED_API)
