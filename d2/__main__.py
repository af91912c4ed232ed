"""``python -m d2``: hand over to the developer CLI (installed with the ``cli`` extra)."""

from __future__ import annotations

import sys


def _main() -> int:
    try:
        from d2tools.cli import main  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        print(f"d2: the CLI needs the 'cli' extra: pip install 'd2-guard[cli]' ({exc})", file=sys.stderr)
        return 2
    return int(main() or 0)


if __name__ == "__main__":
    sys.exit(_main())
