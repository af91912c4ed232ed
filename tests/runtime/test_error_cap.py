"""A policy with many errors: the exception message stays short, every diagnostic stays available."""

from __future__ import annotations

import pytest

import d2
from d2.exceptions import MESSAGE_DIAGNOSTICS


def _policy(errors: int) -> str:
    lines = ["policies:", "  - role: r", "    permissions:"]
    lines += [f"      - {{tool: t{i}, allow: maybe}}" for i in range(errors)]
    return "\n".join(lines) + "\n"


def test_the_message_is_capped_with_a_count(write_policy) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(d2.ConfigurationError) as info:
        d2.load_policy_file(write_policy(_policy(1400)))
    exc = info.value
    assert len(exc.diagnostics) == 1400
    listed = [line for line in str(exc).splitlines() if "policy.yaml:" in line and "D2E" in line]
    assert len(listed) == MESSAGE_DIAGNOSTICS
    assert f"… and {1400 - MESSAGE_DIAGNOSTICS:,} more" in str(exc)
    assert len(str(exc).splitlines()) == MESSAGE_DIAGNOSTICS + 2


def test_a_few_errors_are_all_listed(write_policy) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(d2.ConfigurationError) as info:
        d2.load_policy_file(write_policy(_policy(3)))
    assert len(info.value.diagnostics) == 3 and "more" not in str(info.value)
    assert sum("D2E" in line for line in str(info.value).splitlines()) == 3


def test_lint_still_lists_every_error(write_policy) -> None:  # type: ignore[no-untyped-def]
    from d2tools.lint import lint_file

    result = lint_file(write_policy(_policy(1400)))
    assert sum(d.is_error for d in result.diagnostics) == 1400
