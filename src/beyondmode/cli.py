"""Command-line interface (filled in below)."""

import sys


def main(argv: list[str] | None = None) -> int:
    print("beyondmode: CLI under construction", file=sys.stderr)
    return 1
