"""The `imc` command: explain manifests, report on a live cluster, run the built-in cluster."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `imc` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="imc", description="Explain and manage Alibaba Cloud ECI ImageCaches."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{explain,report,sim}")

    from core import explain_cli

    explain_cli.add_arguments(
        sub.add_parser("explain", help="decide which ImageCache each pod template would hit, and why")
    )

    from core.kube import report

    report.add_arguments(sub.add_parser("report", help="explain every ECI pod of a live cluster"))

    from sim import main as sim_main

    sim_main.add_arguments(sub.add_parser("sim", help="run the built-in ECI cluster (HTTPS Kubernetes API)"))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `imc` console script."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "explain":
            from core import explain_cli

            return explain_cli.run(args)
        if args.command == "report":
            from core.kube import report

            return report.run(args)
        from sim import main as sim_main

        return sim_main.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
