"""Project settings for the ``d2`` command: ``[tool.d2]`` in ``pyproject.toml``, or a ``.d2.toml`` file.

The nearest file upwards from the working directory wins (``.d2.toml`` before ``pyproject.toml`` in
the same directory), as ruff does. Relative paths are relative to that file. An unknown key is an
error with a did-you-mean, never silently ignored: a misspelt ``ignore`` must not turn checks off.

```toml
[tool.d2]                      # in .d2.toml, leave out the "tool.d2" prefix
policies = ["policy.yaml", "policies/**/*.yaml"]   # what lint/fmt check by default; what counts as a policy
select = ["D2E", "D2W"]        # report only codes starting with these
ignore = ["D2W701"]            # drop codes starting with these
strict = false                 # warnings fail `d2 lint` too
code = ["src"]                 # `d2 lint --code` default
[tool.d2.serve]
db = "./d2.db"                 # `d2 serve --db` default (after $D2_SERVER_DB)
```
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Config", "ConfigError", "load_config"]

_KEYS = ("policies", "select", "ignore", "strict", "code", "serve")
_SERVE_KEYS = ("db", "schema", "host", "port")


class ConfigError(ValueError):
    """A settings file that cannot be used: the message names the file, the key and the fix."""


@dataclass(frozen=True, slots=True)
class Config:
    """The settings in force; ``path`` None means no settings file was found (all defaults)."""

    path: Path | None = None
    root: Path = field(default_factory=Path.cwd)
    policies: tuple[str, ...] = ()
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    strict: bool = False
    code: tuple[Path, ...] = ()
    serve: Mapping[str, Any] = field(default_factory=dict)

    def keeps(self, code: str, *, select: tuple[str, ...] = (), ignore: tuple[str, ...] = ()) -> bool:
        """Whether a finding with ``code`` is reported: ``select`` from the command line replaces ours."""
        chosen = select or self.select
        if chosen and not any(code.startswith(p) for p in chosen):
            return False
        return not any(code.startswith(p) for p in (*self.ignore, *ignore))

    def policy_files(self) -> list[Path]:
        """The files the ``policies`` globs match, sorted, relative to the settings file."""
        found: set[Path] = set()
        for pattern in self.policies:
            found.update(p for p in self.root.glob(pattern) if p.is_file())
        return sorted(found)

    def is_listed(self, path: Path) -> bool:
        """Whether ``path`` matches one of the ``policies`` globs."""
        try:
            rel = path.resolve().relative_to(self.root.resolve())
        except ValueError:
            return False
        return any(_glob_regex(p).fullmatch(rel.as_posix()) for p in self.policies)


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Translate a glob as ``Path.glob`` reads it: ``**/`` spans directories, ``*`` stays in one."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        ch = pattern[i]
        out.append("[^/]*" if ch == "*" else "[^/]" if ch == "?" else re.escape(ch))
        i += 1
    return re.compile("".join(out))


def load_config(start: Path | None = None) -> Config:
    """Find and read the nearest settings file upwards from ``start`` (default: the working directory)."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        dotfile = directory / ".d2.toml"
        if dotfile.is_file():
            return _parse(dotfile, _read(dotfile))
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            tool = _read(pyproject).get("tool", {})
            section = tool.get("d2") if isinstance(tool, dict) else None
            if isinstance(section, dict):
                return _parse(pyproject, section)
    return Config()


def _read(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
        return data
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the d2 settings: {exc}") from None


def _parse(path: Path, data: Mapping[str, Any]) -> Config:
    where = f"{path} [tool.d2]" if path.name == "pyproject.toml" else str(path)
    _known(data, _KEYS, where)
    serve = data.get("serve", {})
    if not isinstance(serve, dict):
        raise ConfigError(f"{where}: 'serve' must be a table, e.g. [tool.d2.serve] db = \"./d2.db\"")
    _known(serve, _SERVE_KEYS, f"{where} serve")
    strict = data.get("strict", False)
    if not isinstance(strict, bool):
        raise ConfigError(f"{where}: 'strict' must be true or false")
    root = path.parent
    return Config(
        path=path,
        root=root,
        policies=_strings(data, "policies", where),
        select=tuple(s.upper() for s in _strings(data, "select", where)),
        ignore=tuple(s.upper() for s in _strings(data, "ignore", where)),
        strict=strict,
        code=tuple(root / c for c in _strings(data, "code", where)),
        serve={k: (str(root / v) if k == "db" and "://" not in str(v) else v) for k, v in serve.items()},
    )


def _known(data: Mapping[str, Any], keys: tuple[str, ...], where: str) -> None:
    from d2._toolkit import suggest

    for key in data:
        if key not in keys:
            guess = suggest(str(key), list(keys))
            hint = f"did you mean '{guess}'?" if guess else f"known keys: {', '.join(keys)}"
            raise ConfigError(f"{where}: unknown key '{key}' ({hint})")


def _strings(data: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: '{key}' must be a list of strings")
    return tuple(value)
