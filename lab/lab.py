#!/usr/bin/env python3
"""lab/lab.sh's program: python3's standard library only, as it runs before any virtualenv exists
(ksched_lab/, lab/README.md)."""

import sys
from pathlib import Path


def main() -> int:
    # the repository root, lab/..: plumbing/ (shared with the program) is stdlib-only too
    sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
    from ksched_lab.cli import main as cli_main

    return cli_main(sys.argv)


if __name__ == "__main__":
    sys.exit(main())
