"""Command-line entry point: ``dl3lab demo``."""

import argparse
import os
import runpy
import sys

__all__ = ["main"]


def _demo(args):
    from .reduction.example_data import example_data_dir

    data_dir = args.data or str(example_data_dir())
    os.environ["DL3LAB_DATA"] = str(data_dir)
    print(f"dl3lab demo: reducing the Crab runs of {data_dir}\n(HESS DL3 DR1, H.E.S.S. collaboration)\n")
    runpy.run_module("dl3lab.examples.makers_tutorial", run_name="__main__")
    return 0


def main(argv=None):
    """Run the ``dl3lab`` command."""
    parser = argparse.ArgumentParser(prog="dl3lab", description="Reduce IACT DL3 data into binned datasets.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="reduce the HESS Crab runs as in the makers tutorial and print summaries")
    demo.add_argument("--data", help="data store directory (default: DL3LAB_DATA or the example data)")
    demo.set_defaults(func=_demo)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
