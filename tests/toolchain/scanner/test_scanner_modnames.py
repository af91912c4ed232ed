"""Module names follow packages exactly as Python imports them, so auto ids match ``__module__``."""

from __future__ import annotations

from pathlib import Path

from d2tools.scanner import module_name_for


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    return path


def test_loose_script_is_named_by_its_stem(tmp_path: Path) -> None:
    assert module_name_for(_touch(tmp_path / "tool.py"), tmp_path) == "tool"


def test_package_chain_gives_dotted_name(tmp_path: Path) -> None:
    _touch(tmp_path / "app" / "__init__.py")
    _touch(tmp_path / "app" / "api" / "__init__.py")
    users = _touch(tmp_path / "app" / "api" / "users.py")
    assert module_name_for(users, tmp_path) == "app.api.users"


def test_package_init_is_the_package(tmp_path: Path) -> None:
    init = _touch(tmp_path / "app" / "__init__.py")
    assert module_name_for(init, tmp_path) == "app"


def test_src_layout_stops_at_the_first_directory_without_init(tmp_path: Path) -> None:
    _touch(tmp_path / "src" / "acme" / "__init__.py")
    mod = _touch(tmp_path / "src" / "acme" / "billing.py")
    assert module_name_for(mod, tmp_path) == "acme.billing"


def test_walk_continues_above_root_like_the_runtime(tmp_path: Path) -> None:
    _touch(tmp_path / "app" / "__init__.py")
    _touch(tmp_path / "app" / "api" / "__init__.py")
    users = _touch(tmp_path / "app" / "api" / "users.py")
    assert module_name_for(users, tmp_path / "app" / "api") == "app.api.users"


def test_relative_path_is_anchored_at_root(tmp_path: Path) -> None:
    _touch(tmp_path / "pkg" / "__init__.py")
    _touch(tmp_path / "pkg" / "mod.py")
    assert module_name_for(Path("pkg/mod.py"), tmp_path) == "pkg.mod"


def test_directory_without_init_is_not_a_package(tmp_path: Path) -> None:
    mod = _touch(tmp_path / "scripts" / "job.py")
    assert module_name_for(mod, tmp_path) == "job"
