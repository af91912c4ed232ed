"""``python -m d2``: hand over to the developer CLI (installed with the ``cli`` extra).

The runtime never imports the toolchain; the hand-over is by name, at run time, so ``d2`` keeps no
import edge to ``d2tools`` (import-linter checks that).
"""

from __future__ import annotations

import importlib
import sys

_CLI_MODULE = "d2tools.cli"


def _main() -> int:
    try:
        cli = importlib.import_module(_CLI_MODULE)
    except ImportError as exc:
        print(f"d2: the CLI needs the 'cli' extra: pip install 'd2-guard[cli]' ({exc})", file=sys.stderr)
        return 2
    return int(cli.main() or 0)


if __name__ == "__main__":
    sys.exit(_main())
