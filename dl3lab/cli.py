"""Command-line entry point: ``dl3lab demo``, ``simulate``, ``download`` and ``run``."""

import argparse
import os
import runpy
import sys

__all__ = ["main"]


def _demo(args):
    from .reduction.example_data import describe_data_store, find_example_data

    if args.data:
        data_dir, what = args.data, describe_data_store(args.data)
    else:
        found = find_example_data()
        data_dir, what = found.path, found.description
    os.environ["DL3LAB_DATA"] = str(data_dir)
    print(f"dl3lab demo: reducing the Crab runs of {data_dir}\nData: {what}\n")
    runpy.run_module("dl3lab.examples.makers_tutorial", run_name="__main__")
    return 0


def _floats(text):
    try:
        return tuple(float(v) for v in str(text).split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _gti(text):
    try:
        pairs = [tuple(float(v) for v in item.split(":")) for item in text.split(",") if item.strip()]
    except ValueError:
        pairs = None
    if not pairs or any(len(p) != 2 for p in pairs):
        raise argparse.ArgumentTypeError(f"expected START:STOP[,START:STOP...] in seconds, got {text!r}")
    return tuple(pairs)


def _source(text, name):
    from .reduction.simulate import PowerLaw, SkySource

    values = _floats(text)
    if len(values) not in (4, 5):
        raise argparse.ArgumentTypeError(f"expected RA,DEC,AMPLITUDE,INDEX[,SIGMA], got {text!r}")
    sigma = values[4] if len(values) == 5 else 0.0
    return SkySource(values[0], values[1], PowerLaw(values[2], values[3]), sigma=sigma, name=name)


def _simulate(args):
    from .reduction.simulate import PowerLaw, SkySource, simulate_data_store

    sources = []
    if not args.no_source:
        sources.append(SkySource(args.ra, args.dec, PowerLaw(args.amplitude, args.index), sigma=args.sigma,
                                 name=args.name))
    if args.second_source:
        sources.append(_source(args.second_source, "second source"))
    duration = args.duration if args.livetime is None else args.livetime / args.deadc
    wobble = dict(offset=args.wobble_offset, angles=args.wobble_angles, zenith=args.zenith, azimuth=args.azimuth,
                  duration=duration, deadc=args.deadc, gti=args.gti, target=(args.ra, args.dec))
    if args.obs_ids:
        wobble["obs_ids"] = [int(v) for v in args.obs_ids]
    else:
        wobble["first_obs_id"] = args.first_obs_id
    result = simulate_data_store(
        args.dir, sources, n_obs=args.n_obs, seed=args.seed, irf_type=args.irf, psf=args.psf,
        bkg=None if args.bkg == "none" else args.bkg, rad_max=args.rad_max, background=not args.no_background,
        overwrite=args.overwrite, **wobble,
    )
    print(result)
    return 0


def _download(args):
    from .reduction.download import download_dataset

    result = download_dataset(dest=args.dest, runs=args.runs, base_url=args.base_url, quiet=args.quiet,
                              overwrite=args.overwrite)
    print(result)
    return 0


def _add_simulate(sub):
    p = sub.add_parser("simulate", help="write a simulated GADF data store (H.E.S.S.-like IRFs, Poisson events)")
    p.add_argument("dir", help="target directory (created; existing files need --overwrite)")
    p.add_argument("--n-obs", type=int, default=4, help="number of wobble runs (default 4)")
    p.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives identical files")
    p.add_argument("--irf", choices=("full-enclosure", "point-like"), default="full-enclosure")
    p.add_argument("--psf", choices=("psf_table", "psf_3gauss", "psf_king"), default="psf_table")
    p.add_argument("--bkg", choices=("bkg_3d", "bkg_2d", "none"), default="bkg_3d", help="background table format")
    p.add_argument("--rad-max", type=float, default=0.11, help="point-like theta cut in deg (default 0.11)")
    src = p.add_argument_group("source")
    src.add_argument("--ra", type=float, default=83.633, help="source RA in deg (default: the Crab)")
    src.add_argument("--dec", type=float, default=22.0145, help="source Dec in deg")
    src.add_argument("--amplitude", type=float, default=3.5e-11, help="flux at 1 TeV in cm-2 s-1 TeV-1")
    src.add_argument("--index", type=float, default=2.6, help="power-law index")
    src.add_argument("--sigma", type=float, default=0.0, help="Gaussian extension in deg (0: point source)")
    src.add_argument("--name", default="Crab-like", help="source name (OBJECT)")
    src.add_argument("--second-source", metavar="RA,DEC,AMPL,INDEX[,SIGMA]", help="add a second source")
    src.add_argument("--no-source", action="store_true",
                     help="no gamma-ray source (the runs still wobble around RA/Dec)")
    src.add_argument("--no-background", action="store_true", help="no background events")
    obs = p.add_argument_group("observations")
    obs.add_argument("--wobble-offset", type=float, default=0.5, help="wobble offset in deg (default 0.5)")
    obs.add_argument("--wobble-angles", type=_floats, default=(0.0, 180.0, 90.0, 270.0),
                     help="position angles of the wobbles in deg, cycled (default 0,180,90,270)")
    obs.add_argument("--zenith", type=_floats, default=(30.0,), help="zenith angle(s) in deg, cycled (default 30)")
    obs.add_argument("--azimuth", type=_floats, default=(180.0,), help="azimuth(s) in deg, cycled")
    obs.add_argument("--duration", type=float, default=1680.0, help="run length in s (default 1680 = 28 min)")
    obs.add_argument("--livetime", type=float, help="live time per run in s (sets the duration to livetime/deadc)")
    obs.add_argument("--deadc", type=float, default=0.94, help="dead-time correction factor (default 0.94)")
    obs.add_argument("--gti", type=_gti, help="good time intervals in s from the run start, e.g. 0:800,900:1680")
    obs.add_argument("--first-obs-id", type=int, default=1, help="id of the first run (default 1)")
    obs.add_argument("--obs-ids", type=_floats, help="explicit comma-separated run ids (sets --n-obs)")
    p.add_argument("--overwrite", action="store_true", help="replace existing files")
    p.set_defaults(func=_simulate)


def _add_download(sub):
    from .reduction.download import DATASET, URL_ENV

    p = sub.add_parser("download", help="download the public H.E.S.S. DL3 DR1 data (verified by SHA-256)")
    p.add_argument("dataset", choices=(DATASET,))
    p.add_argument("--dest", help="target directory (default: the dl3lab cache, $DL3LAB_CACHE/hess-dl3-dr1)")
    p.add_argument("--runs", default="crab", help="'crab' (default: the four Crab runs), 'all', or ids 23523,23526")
    p.add_argument("--base-url", help=f"where the files are (default: ${URL_ENV} or the gammapy-data repository)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--overwrite", action="store_true", help="replace present files whose checksum does not match")
    p.set_defaults(func=_download)


def main(argv=None):
    """Run the ``dl3lab`` command."""
    from .reduction.errors import DL3LabError

    parser = argparse.ArgumentParser(prog="dl3lab", description="Reduce IACT DL3 data into binned datasets.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="reduce the Crab runs as in the makers tutorial and print summaries")
    demo.add_argument("--data", help="data store directory (default: DL3LAB_DATA or the example data)")
    demo.set_defaults(func=_demo)
    _add_simulate(sub)
    _add_download(sub)
    from .app import add_app_parser

    add_app_parser(sub)
    from .batch import add_run_command

    add_run_command(sub)
    args = parser.parse_args(argv)
    expected = (DL3LabError, FileExistsError) + ((ValueError,) if args.command != "demo" else ())
    try:
        return args.func(args)
    except expected as exc:
        print(f"dl3lab {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
