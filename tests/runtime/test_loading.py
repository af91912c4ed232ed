"""Loading policies: discovery, formats, every error at once with file:line:col, expiry, no caps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import d2
from d2._lang.compiler import compile_policy
from d2._lang.source import parse_policy_text
from d2._sources.discovery import discover_policy

GOOD = "policies:\n  - role: admin\n    permissions: ['*']\n"


def diagnostics(text: str) -> list[str]:
    result = compile_policy(parse_policy_text(text, "p.yaml"))
    return [d.render() for d in result.diagnostics]


def test_malformed_policy_lists_every_error_with_location_and_suggestion(write_policy) -> None:  # type: ignore[no-untyped-def]
    path = write_policy(
        "metadata:\n"
        "  name: 3\n"
        "  expire: '2030-01-01'\n"
        "policies:\n"
        "  - role: admin\n"
        "    permisions: ['*']\n"
        "  - role: dev\n"
        "    permissions: [a, {tool: b, alow: true}, 7]\n"
    )
    with pytest.raises(d2.ConfigurationError) as info:
        d2.configure_rbac_sync(path)
    rendered = [d.render() for d in info.value.diagnostics]
    assert rendered == [
        f"{path}:2:9: D2E003 'metadata.name' must be a string, got an integer",
        f"{path}:3:3: D2E002 unknown key 'expire' in metadata (did you mean 'expires'?)",
        f"{path}:6:5: D2E002 unknown key 'permisions' in role entry (did you mean 'permissions'?)",
        f"{path}:8:32: D2E002 unknown key 'alow' in permission (did you mean 'allow'?)",
        f"{path}:8:45: D2E003 'policies[1].permissions[2]' must be a string or a mapping, got an integer",
    ]
    for line in rendered:
        assert line in str(info.value)
    assert d2.get_policy_manager().policy is None


def test_bad_yaml_reports_line_and_column(write_policy) -> None:  # type: ignore[no-untyped-def]
    path = write_policy("policies:\n  - role: admin\n    permissions: [a, b\n")
    with pytest.raises(d2.ConfigurationError) as info:
        d2.configure_rbac_sync(path)
    (diag,) = info.value.diagnostics
    assert diag.code == "D2E001" and diag.line == 4
    assert "syntax error" in diag.message


def test_duplicate_keys_are_errors_not_overwrites() -> None:
    with pytest.raises(d2.ConfigurationError, match="duplicate key"):
        diagnostics("policies: []\npolicies: []\n")


def test_json_policy_loads_with_positions(write_policy) -> None:  # type: ignore[no-untyped-def]
    doc = {"policies": [{"role": "admin", "permissions": ["*"]}, {"role": "x", "permisions": []}]}
    path = write_policy(json.dumps(doc, indent=2), "policy.json")
    with pytest.raises(d2.ConfigurationError) as info:
        d2.load_policy_file(path)
    (diag,) = info.value.diagnostics
    assert (diag.line, diag.col, diag.code) == (11, 7, "D2E002")


def test_roles_alias_and_both_forms_conflict() -> None:
    assert diagnostics("roles:\n  - role: a\n    permissions: [x]\n") == []
    assert any("both 'policies' and 'roles'" in d for d in diagnostics("policies: []\nroles: []\n"))
    assert any(
        "both 'role' and 'roles'" in d for d in diagnostics("policies:\n  - role: a\n    roles: [b]\n")
    )


def test_missing_policies_and_role_are_errors() -> None:
    assert any("no 'policies'" in d for d in diagnostics("metadata: {name: x}\n"))
    assert any("names no role" in d for d in diagnostics("policies:\n  - permissions: [x]\n"))


def test_undefined_group_suggests_the_close_one() -> None:
    text = "metadata:\n  tool_groups: {reports: [a]}\npolicies:\n  - role: r\n    permissions: ['@report']\n"
    assert "p.yaml:5:19: D2E010 undefined tool group '@report' (did you mean '@reports'?)" in diagnostics(
        text
    )


def test_unknown_keys_are_errors_except_x_annotations() -> None:
    assert diagnostics("x-owner: sec\npolicies:\n  - role: a\n    x-note: hi\n    permissions: [t]\n") == []
    assert diagnostics("owner: sec\npolicies: []\n")[0].startswith("p.yaml:1:1: D2E002 unknown key 'owner'")


def test_several_role_entries_for_one_role_add_up() -> None:
    result = compile_policy(
        parse_policy_text("policies:\n  - role: a\n    permissions: [x]\n  - role: a\n    permissions: [y]\n")
    )
    assert result.policy is not None
    assert result.policy.tools_for("a") == {"x", "y"}


def test_expired_policy_is_refused_at_load(write_policy) -> None:  # type: ignore[no-untyped-def]
    path = write_policy("metadata:\n  expires: '2001-01-01T00:00:00Z'\n" + GOOD)
    with pytest.raises(d2.BundleExpiredError, match="expired"):
        d2.configure_rbac_sync(path)


def test_invalid_expiry_is_an_error() -> None:
    assert any("D2E006" in d for d in diagnostics("metadata:\n  expires: next tuesday\n" + GOOD))


def test_no_tool_count_or_expiry_horizon_caps(write_policy) -> None:  # type: ignore[no-untyped-def]
    """The vendor capped local policies at 25 tools and 7 days; we do not."""
    tools = "\n".join(f"      - tool.{i}" for i in range(2000))
    path = write_policy(
        f"metadata:\n  expires: '2099-01-01T00:00:00Z'\npolicies:\n  - role: r\n    permissions:\n{tools}\n"
    )
    d2.configure_rbac_sync(path)
    policy = d2.get_policy_manager().policy
    assert policy is not None and len(policy.known_tools) == 2000


def test_policy_too_large_limit_is_configurable(write_policy, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    path = write_policy(GOOD)
    monkeypatch.setenv("D2_MAX_POLICY_BYTES", "10")
    with pytest.raises(d2.PolicyTooLargeError, match="D2_MAX_POLICY_BYTES"):
        d2.configure_rbac_sync(path)


def test_discovery_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "policy.yml").write_text(GOOD)
    assert discover_policy(cwd=cwd).how == "working directory"
    xdg = tmp_path / "xdg"
    (xdg / "d2").mkdir(parents=True)
    (xdg / "d2" / "policy.yaml").write_text(GOOD)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    assert discover_policy(cwd=cwd).path == xdg / "d2" / "policy.yaml"
    explicit = tmp_path / "explicit.yaml"
    explicit.write_text(GOOD)
    monkeypatch.setenv("D2_POLICY_FILE", str(explicit))
    assert discover_policy(cwd=cwd).path == explicit


def test_discovery_refuses_several_candidates(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(GOOD)
    (tmp_path / "policy.json").write_text('{"policies": []}')
    with pytest.raises(d2.ConfigurationError, match=r"policy\.yaml.*policy\.json"):
        discover_policy(cwd=tmp_path)


def test_discovery_with_nothing_found_is_missing_policy(tmp_path: Path) -> None:
    with pytest.raises(d2.MissingPolicyError, match="d2 init"):
        discover_policy(cwd=tmp_path)


def test_missing_explicit_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("D2_POLICY_FILE", str(tmp_path / "nope.yaml"))
    with pytest.raises(d2.MissingPolicyError, match="D2_POLICY_FILE"):
        d2.configure_rbac_sync()


def test_configure_discovers_from_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "policy.yaml").write_text(GOOD)
    monkeypatch.chdir(tmp_path)
    manager = d2.configure_rbac_sync()
    assert manager.discovery is not None and manager.discovery.how == "working directory"


def test_configure_async(write_policy) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    manager = asyncio.run(d2.configure_rbac_async(write_policy(GOOD)))
    assert manager.policy is not None and manager.mode == "local"


def test_wildcard_with_conditions_and_deny_are_errors() -> None:
    assert any(
        "D2E012" in d
        for d in diagnostics("policies:\n  - role: a\n    permissions: [{tool: '*', allow: false}]\n")
    )


def test_token_without_cloud_support_is_a_clear_error(write_policy, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("D2_TOKEN", "d2_test")
    monkeypatch.chdir(write_policy(GOOD).parent)
    with pytest.raises(d2.ConfigurationError) as info:
        d2.configure_rbac_sync()
    message = str(info.value)
    assert "D2_TOKEN" in message and "D2_API_URL" in message, message
    # The local policy beside the token is not silently used instead: nothing is loaded.
    assert d2.get_policy_manager().policy is None
