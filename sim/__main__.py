"""`python -m sim`: the same as `imc sim`."""

from __future__ import annotations

import argparse
import sys

from sim.command import add_arguments, run


def main(argv: list[str] | None = None) -> int:
    """Parse `imc sim` options and serve."""
    parser = argparse.ArgumentParser(prog="python -m sim", description="Run the built-in ECI cluster.")
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
