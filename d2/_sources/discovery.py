"""Find the local policy file: D2_POLICY_FILE, then the XDG config directory, then the working directory."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from d2.exceptions import ConfigurationError, MissingPolicyError

__all__ = ["POLICY_NAMES", "Discovery", "discover_policy", "xdg_policy_dir"]

POLICY_NAMES = ("policy.yaml", "policy.yml", "policy.json")


@dataclass(frozen=True, slots=True)
class Discovery:
    """The chosen policy file and how it was chosen (shown by ``d2 diagnose``)."""

    path: Path
    how: str


def xdg_policy_dir() -> Path:
    """``$XDG_CONFIG_HOME/d2`` or ``~/.config/d2``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "d2"


def discover_policy(explicit: str | os.PathLike[str] | None = None, *, cwd: Path | None = None) -> Discovery:
    """Return the policy file to load: several candidates at one level is an error, none is missing."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise MissingPolicyError(f"policy file {path} does not exist")
        return Discovery(path, "argument")
    env = os.environ.get("D2_POLICY_FILE")
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise MissingPolicyError(f"D2_POLICY_FILE points to {path}, which does not exist")
        return Discovery(path, "D2_POLICY_FILE")
    searched: list[str] = []
    for directory, how in ((xdg_policy_dir(), "XDG config"), (cwd or Path.cwd(), "working directory")):
        found = [directory / name for name in POLICY_NAMES if (directory / name).is_file()]
        searched.append(str(directory))
        if len(found) > 1:
            names = ", ".join(str(p) for p in found)
            raise ConfigurationError(
                f"several policy files found in {directory}: {names}; keep one, or set D2_POLICY_FILE"
            )
        if found:
            return Discovery(found[0], how)
    raise MissingPolicyError(
        "no policy file found: set D2_POLICY_FILE, or create policy.yaml in "
        + " or ".join(searched)
        + " (`d2 init` writes a starter policy)"
    )
