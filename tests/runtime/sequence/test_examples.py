"""The sequence demos run and decide exactly as the walkthroughs say."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[3]


def verdicts(script: str) -> list[str]:
    """Run an example and return its decisions as 'ALLOW tool' / 'DENY tool' lines (titles as '#')."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / script)], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no warnings: the example policies lint clean
    out = []
    for line in proc.stdout.splitlines():
        words = line.split()
        if words and words[0] in ("ALLOW", "DENY"):
            out.append(f"{words[0]} {words[1]}")
        elif line and not line.startswith(" "):
            out.append("#")
    return out


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (
            "examples/sequences/demo.py",
            [
                "#",
                "ALLOW database.read_users",
                "DENY web.http_request",
                "#",
                "ALLOW analytics.summarize",
                "ALLOW database.read_users",
                "#",
                "ALLOW database.read_users",
                "ALLOW analytics.summarize",
                "DENY email.send",
                "#",
                "ALLOW secrets.get_key",
                "DENY web.http_request",
                "#",
                "ALLOW database.read_users",
                "ALLOW web.http_request",
            ],
        ),
        (
            "examples/sequences/modes.py",
            [
                "#",
                "#",
                "ALLOW database.read_users",
                "ALLOW web.search",
                "DENY email.send",
                "#",
                "ALLOW database.read_users",
                "ALLOW report.approve",
                "ALLOW email.send",
                "#",
                "ALLOW database.read_users",
                "ALLOW report.approve",
                "DENY web.http_request",
                "#",
                "#",
                "ALLOW web.search",
                "ALLOW llm.summarize",
                "ALLOW report.save",
                "#",
                "ALLOW web.search",
                "DENY report.save",
                "#",
                "DENY report.save",
                "#",
                "ALLOW web.search",
                "ALLOW llm.summarize",
                "ALLOW clock.now",
                "DENY report.save",
                "#",
                "#",
                "DENY ehr.read_record",
                "#",
                "ALLOW consent.check",
                "ALLOW ehr.read_record",
                "ALLOW audit.log",
                "DENY email.send",
                "#",
                "ALLOW audit.log",
                "ALLOW email.send",
            ],
        ),
    ],
)
def test_example_decisions(script: str, expected: list[str]) -> None:
    assert verdicts(script) == expected


def test_demo_explains_the_hidden_trail_with_the_three_step_rule() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples/sequences/demo.py")], capture_output=True, text=True, check=True
    )
    assert (
        "through analytics; matched database.read_users (call 1) → analytics.summarize (call 2)"
        in proc.stdout
    )
