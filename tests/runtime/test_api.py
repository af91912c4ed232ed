"""The public surface: every name exported, import stays light, ``python -m d2`` hands over."""

from __future__ import annotations

import subprocess
import sys

import pytest

import d2
import d2.exceptions

SEED_NAMES = {
    "d2_guard",
    "d2",
    "configure_rbac_sync",
    "configure_rbac_async",
    "shutdown_rbac",
    "shutdown_all_rbac",
    "get_policy_manager",
    "set_user",
    "set_user_context",
    "run_as",
    "get_user_context",
    "clear_user_context",
    "warn_if_context_set",
    "UserContext",
    "ASGIMiddleware",
    "headers_extractor",
    "clear_context",
    "clear_context_async",
    "threads",
    "record_fact",
    "record_facts",
    "get_facts",
    "has_fact",
    "has_any_fact",
    "D2Error",
    "PermissionDeniedError",
    "D2NoContextError",
    "MissingPolicyError",
    "BundleExpiredError",
    "ConfigurationError",
    "InvalidSignatureError",
    "PolicyTooLargeError",
    "TooManyToolsError",
    "D2PlanLimitError",
}


def test_every_seed_name_is_exported() -> None:
    assert SEED_NAMES <= set(d2.__all__)
    for name in d2.__all__:
        assert getattr(d2, name) is not None
    assert d2.__all__ == sorted(d2.__all__)
    assert callable(d2.threads.submit_with_context) and callable(d2.threads.thread_entrypoint)


def test_exception_tree() -> None:
    for cls in (d2.D2NoContextError, d2.MissingPolicyError, d2.BundleExpiredError):
        assert issubclass(cls, d2.PermissionDeniedError)
    for cls in (
        d2.PermissionDeniedError,
        d2.ConfigurationError,
        d2.InvalidSignatureError,
        d2.PolicyTooLargeError,
        d2.D2PlanLimitError,
    ):
        assert issubclass(cls, d2.D2Error)
    assert issubclass(d2.TooManyToolsError, d2.PolicyTooLargeError)
    assert d2.exceptions.PermissionDeniedError is d2.PermissionDeniedError
    err = d2.PermissionDeniedError(
        reason="input_validation",
        tool_id="t",
        user_id="u",
        roles=["b", "a"],
        location="p.yaml:3:5",
        detail="limit: max 100",
        value=500,
    )
    assert err.reason == d2.Reason.INPUT_VALIDATION and err.roles == ("a", "b")
    assert "500" not in str(err) and "p.yaml:3:5" in str(err) and err.value == 500
    assert d2.PermissionDeniedError(reason="custom").reason == "custom"


@pytest.mark.parametrize("cls", [d2.PermissionDeniedError, d2.D2NoContextError, d2.BundleExpiredError])
def test_a_refusal_survives_pickle_and_copy_with_every_field(cls: type[d2.PermissionDeniedError]) -> None:
    # Refusal fields live in slots (cheap to set on the hot path); pickling and copying must carry
    # them, and attributes a caller added, as the instance dict did.
    import copy
    import pickle

    err = cls(reason="input_validation", tool_id="t", user_id="u", roles=["b", "a"], location="p:1:2")
    err.detail, err.value, err.note = "limit: max 100", 500, "added by a handler"  # type: ignore[attr-defined]
    for other in (pickle.loads(pickle.dumps(err)), copy.copy(err), copy.deepcopy(err)):
        assert type(other) is cls and str(other) == str(err) and other.args == err.args
        fields = ("reason", "tool_id", "user_id", "roles", "location", "detail", "value", "note")
        assert [getattr(other, f) for f in fields] == [getattr(err, f) for f in fields]
    vendor = pickle.loads(pickle.dumps(d2.PermissionDeniedError("tool", "user", ["r"], reason="rbac")))
    assert (vendor.tool_id, vendor.user_id, vendor.roles, vendor.reason) == ("tool", "user", ("r",), "rbac")


def test_import_stays_light() -> None:
    code = (
        "import sys, d2\n"
        "heavy = ['typer', 'rich', 'textual', 'libcst', 'jsonschema', 'ruamel', 're2', 'httpx', 'jwt',\n"
        "         'starlette', 'uvicorn', 'd2tools', 'asyncio', 'cryptography']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_compile_policy_is_lazy_but_available() -> None:
    result = d2.compile_policy
    assert callable(result) and d2.CompileResult is not None


def test_python_m_d2_hands_over_to_the_cli() -> None:
    proc = subprocess.run([sys.executable, "-m", "d2", "--help"], capture_output=True, text=True)
    assert proc.returncode in (0, 2)
    assert "d2" in (proc.stdout + proc.stderr)
