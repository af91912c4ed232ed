"""``d2 init --merge`` keeps the user's edits; generated files have ordinary modes; scenarios are announced."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

EDITED = """\
# our policy: reviewed by security
metadata:
  name: billing
policies:
  - role: developer
    permissions: ["billing.refund"]  # the only one we checked
  - role: intern
    permissions:
      - tool: billing.refund
        allow: false  # never
"""


def test_merge_adds_new_tools_and_keeps_everything_else(cli, billing: Path) -> None:
    Path("policy.yaml").write_text(EDITED)
    result = cli("init", "--path", "app", "--merge")
    assert result.code == 0, result.err
    text = Path("policy.yaml").read_text()
    assert text.startswith("# our policy: reviewed by security\n")
    assert "# the only one we checked" in text and "allow: false  # never" in text
    for tool in ("billing.read", "weather.lookup", "reports.run", "app.billing.Admin.Users.delete"):
        assert re.search(
            rf"- {re.escape(tool)} +# added by d2 init --merge: app/billing\.py:\d+$", text, re.M
        ), tool
    assert text.count("billing.refund") == 2  # not added again
    assert "Added 4 tool(s) to role 'developer'" in result.err
    again = cli("init", "--path", "app", "--merge")
    assert again.code == 0 and "nothing to add" in again.err
    assert Path("policy.yaml").read_text() == text
    assert cli("lint", "policy.yaml").code == 0


def test_merge_into_a_new_role_entry_and_refusals(cli, billing: Path) -> None:
    Path("policy.yaml").write_text("policies:\n  - role: admin\n    permissions: ['*']\n")
    assert cli("init", "--path", "app", "--merge", "--role", "agent").code == 0
    text = Path("policy.yaml").read_text()
    assert "- role: agent" in text and "billing.read" in text
    refused = cli("init", "--path", "app")
    assert refused.code == 1 and "--merge" in refused.err and "--force" in refused.err
    assert cli("init", "--path", "app", "--merge", "--force").code == 2
    assert cli("init", "--path", "app", "--merge", "-o", "missing.yaml").code == 2


def test_generated_files_are_ordinary_and_the_server_db_private(cli, billing: Path, tmp_path: Path) -> None:
    from d2tools.server import admin

    old = os.umask(0o022)
    try:
        Path("policy.yaml").unlink()
        result = cli("init", "--path", "app")
        db = tmp_path / "cp" / "d2.db"
        admin.init_storage(str(db))
    finally:
        os.umask(old)
    assert "Wrote scenarios/policy.d2test.yaml: starter scenarios" in result.err
    for generated in ("policy.yaml", "scenarios/policy.d2test.yaml", ".d2/policy.schema.json"):
        assert stat.S_IMODE(Path(generated).stat().st_mode) == 0o644, generated
    assert stat.S_IMODE(db.stat().st_mode) == 0o600  # it holds the signing keys
