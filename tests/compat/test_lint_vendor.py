"""`d2 lint --vendor`: each place a vendor-format policy behaves differently is reported with file:line:col."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

VENDOR_POLICY = """\
metadata:
  name: app
  expires: "2030-01-01T00:00:00Z"
  tool_groups:
    net: [web.get, web.post]
policies:
  - role: analyst
    permissions:
      - "@net"
      - tool: db.read
        allow: false
      - tool: pay
        conditions:
          input: {amount: {max: 10}}
          output: {ssn: {action: filter}}
    sequence:
      - deny: [web.post]
        reason: no posting
  - role: boss
    permissions: [pay, db.read]
"""


def _lint(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "d2", "lint", *args, str(path)], capture_output=True, text=True, timeout=120
    )


def test_vendor_mode_reports_every_difference_with_its_position(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(VENDOR_POLICY)
    proc = _lint(policy, "--vendor")
    assert proc.returncode == 0, proc.stdout + proc.stderr  # notes are warnings
    found = {
        line.split(": ")[1].split()[0]: line.split(": ")[0]
        for line in proc.stdout.splitlines()
        if ": D2M" in line
    }
    assert found == {
        "D2M004": f"{policy}:3:3",
        "D2M002": f"{policy}:9:9",
        "D2M001": f"{policy}:10:9",
        "D2M005": f"{policy}:12:9",
        "D2M003": f"{policy}:15:11",
        "D2M006": f"{policy}:17:9",
    }
    assert "--strict" not in proc.stdout
    assert _lint(policy, "--vendor", "--strict").returncode == 1


def test_without_vendor_mode_no_migration_notes(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(VENDOR_POLICY)
    proc = _lint(policy)
    assert "D2M" not in proc.stdout


def test_vendor_typos_are_still_errors(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        VENDOR_POLICY.replace('    permissions:\n      - "@net"', '    permisions:\n      - "@net"')
    )
    proc = _lint(policy, "--vendor")
    assert proc.returncode == 1 and "D2E002" in proc.stdout and "permissions" in proc.stdout


def test_every_migration_note_is_catalogued() -> None:
    from d2tools.lint._vendor import VENDOR_NOTES
    from d2tools.lint.codes import CODES

    assert set(VENDOR_NOTES) == {c for c, info in CODES.items() if info.origin == "vendor"}
