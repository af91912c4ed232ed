"""``d2 schema``: the JSON Schemas of d2's files, for editors (completion, hover docs, validation).

The schemas' ``$id`` URLs are names, not addresses an editor can fetch, so editors are pointed at
local copies: ``d2 schema --write`` puts every schema in ``.d2/`` (without ``$id``, so the references
between them resolve beside each other), and ``d2 init`` writes the same copies and a
``# yaml-language-server: $schema=`` line with the relative path to them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from ._common import EXIT_OK, EXIT_USAGE, emit, fail, make_console

__all__ = ["SCHEMAS", "SCHEMA_DIR", "modeline", "register", "write_schemas"]

SCHEMA_DIR = Path(".d2")
SCHEMAS = ("policy", "scenario", "restriction", "bundle")

_HELP = """Print a d2 JSON Schema, or write local copies (and editor settings) so editors complete and check.

Examples:

    d2 schema policy > policy.schema.json

    d2 schema --write .d2 --vscode
"""


def register(app: typer.Typer) -> None:
    """Add ``d2 schema`` to the app."""
    app.command("schema", help=_HELP)(schema)


def _document(name: str) -> dict[str, Any]:
    from d2._toolkit import load_schema

    doc = dict(load_schema(f"{name}.schema.json"))
    doc.pop("$id", None)  # its URL does not resolve; references then resolve beside the local copy
    return doc


def write_schemas(directory: Path) -> list[Path]:
    """Write every schema into ``directory`` (mode 0644, like any generated file); return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in SCHEMAS:
        target = directory / f"{name}.schema.json"
        target.write_text(json.dumps(_document(name), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(target)
    return written


def modeline(document: Path, schema_dir: Path, name: str = "policy") -> str:
    """The ``$schema`` line for ``document``: the path of the local schema copy relative to it."""
    target = (schema_dir / f"{name}.schema.json").resolve()
    rel = os.path.relpath(target, document.resolve().parent)
    return f"# yaml-language-server: $schema={Path(rel).as_posix()}"


def schema(
    name: Annotated[str, typer.Argument(help=f"Which schema: {', '.join(SCHEMAS)}.")] = "policy",
    write: Annotated[
        Path | None,
        typer.Option("--write", metavar="DIR", help="Write every schema into DIR instead of printing one."),
    ] = None,
    vscode: Annotated[
        bool,
        typer.Option("--vscode", help="Also map policy and scenario files to them in .vscode/settings.json."),
    ] = False,
) -> None:
    """Print or write the schemas."""
    if name not in SCHEMAS:
        fail(f"no schema {name!r}; choose one of {', '.join(SCHEMAS)}", code=EXIT_USAGE)
    if write is None and not vscode:
        emit(json.dumps(_document(name), indent=2, ensure_ascii=False))
        raise typer.Exit(EXIT_OK)
    directory = write or SCHEMA_DIR
    err = make_console(stderr=True)
    for path in write_schemas(directory):
        err.print(f"Wrote {path}", markup=False)
    if vscode:
        err.print(f"Updated {editor_settings(directory)}", markup=False)
    raise typer.Exit(EXIT_OK)


def editor_settings(directory: Path) -> Path:
    """Add ``yaml.schemas``/``json.schemas`` entries to ``.vscode/settings.json``, keeping the rest."""
    settings = Path(".vscode") / "settings.json"
    try:
        data = json.loads(settings.read_text(encoding="utf-8")) if settings.exists() else {}
    except ValueError:
        fail(
            f"{settings} is not plain JSON (comments?); add the yaml.schemas entries by hand", code=EXIT_USAGE
        )
    policy = (directory / "policy.schema.json").as_posix()
    scenario = (directory / "scenario.schema.json").as_posix()
    yaml_map = dict(data.get("yaml.schemas") or {})
    yaml_map[policy] = ["policy.yaml", "policy.yml", "*.policy.yaml", "*.policy.yml"]
    yaml_map[scenario] = ["*.d2test.yaml", "*.d2test.yml"]
    data["yaml.schemas"] = yaml_map
    json_list = [e for e in data.get("json.schemas") or [] if e.get("url") != policy]
    json_list.append({"fileMatch": ["policy.json", "*.policy.json"], "url": policy})
    data["json.schemas"] = json_list
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return settings
