"""The data-flow demo runs and decides exactly as the walkthrough says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[3]


def run_demo() -> str:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples/data_flow/demo.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return proc.stdout


def test_demo_decisions() -> None:
    lines = []
    for line in run_demo().splitlines():
        words = line.split()
        if words and words[0] in ("ALLOW", "DENY"):
            reason = words[3].rstrip(":") if words[0] == "DENY" else ""
            lines.append(" ".join(filter(None, (words[0], words[1], reason))))
        elif line and not line.startswith(" "):
            lines.append("#")
    assert lines == [
        "#",
        "ALLOW database.read_users",
        "ALLOW analytics.summarize",
        "DENY http.request sequence_violation",
        "DENY slack.post data_flow",
        "DENY email.send data_flow",
        "DENY webhook.call data_flow",
        "#",
        "ALLOW llm.generate",
        "DENY shell.execute data_flow",
        "DENY code.eval data_flow",
        # The pivot: a sequence rule alone stops only the channel it names...
        "#",
        "ALLOW database.read_users",
        "DENY http.request sequence_violation",
        "ALLOW slack.post",
        # ...a label stops every egress channel.
        "#",
        "ALLOW database.read_users",
        "DENY http.request sequence_violation",
        "DENY slack.post data_flow",
        "DENY email.send data_flow",
        "#",
        "ALLOW logging.info",
        "ALLOW payment.process",
        "ALLOW secrets.get_key",
        "DENY logging.info data_flow",
        "#",
        "DENY code.eval data_flow",
    ]


def test_demo_shows_accumulated_labels() -> None:
    assert "labels now: ['PCI_DATA', 'SECRET', 'SENSITIVE']" in run_demo()
