"""Several processes saving bundles to one state file keep each other's entries (lock + atomic rename)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from d2._sources.cloud_state import SavedBundle, load_saved, save_bundle

WRITER = """
import sys
from pathlib import Path
from d2._sources.cloud_state import SavedBundle, save_bundle
path, name, rounds = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
for i in range(rounds):
    save_bundle(path, name, SavedBundle(f"{name}-token-{i}", {"keys": []}, f"etag-{i}"))
"""


def test_concurrent_processes_keep_every_entry(tmp_path: Path) -> None:
    path = tmp_path / "bundles.json"
    rounds = 25
    names = [f"https://cp.example/{i}#app{i}" for i in range(4)]
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, str(rounds)]) for name in names]
    assert [p.wait(60) for p in procs] == [0] * len(procs)
    for name in names:
        saved = load_saved(path, name)
        assert saved is not None, name
        assert saved.token == f"{name}-token-{rounds - 1}"
    data = json.loads(path.read_text())
    assert sorted(data["sources"]) == sorted(names)
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".bundles-")]  # no temp files left


def test_a_save_keeps_entries_written_by_another_process_meanwhile(tmp_path: Path) -> None:
    path = tmp_path / "bundles.json"
    save_bundle(path, "a", SavedBundle("ta", {}, None))
    subprocess.run([sys.executable, "-c", WRITER, str(path), "b", "1"], check=True)
    save_bundle(path, "a", SavedBundle("ta2", {}, None))
    assert load_saved(path, "b") is not None
    assert (saved := load_saved(path, "a")) is not None and saved.token == "ta2"
