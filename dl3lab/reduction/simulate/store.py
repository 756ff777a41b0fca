"""Simulated GADF data stores: observation plans, run files and index tables."""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy import units as u

from ..datasets.io.atomic import atomic_paths
from .events import BackgroundSampler, sample_background_events, sample_source_events, sample_times
from .fitsout import GADF_DOC, events_hdu, fits_bytes, gti_hdu, gzip_bytes, index_hdu
from .irfs import HESS_SITE, IRFModel
from .sky import SkySource, crab_like_source, offset_by
from .tables import BKG_FORMATS, IRF_TYPES, PSF_FORMATS, make_irfs

__all__ = ["ObservationSpec", "SimulationResult", "wobble_observations", "simulate_observation", "simulate_data_store"]

#: Reference time of the simulated event times (that of H.E.S.S. files, TT).
MJDREFI, MJDREFF = 51910, 0.000742870370370241
#: Default start of the first run, in seconds since the reference time (March 2023).
DEFAULT_TSTART = 7.0e8
TELESCOP = "DL3LAB-SIM"
ORIGIN = "dl3lab simulation"
_TIME_CARDS = {"MJDREFI": MJDREFI, "MJDREFF": MJDREFF, "TIMEUNIT": "s", "TIMESYS": "TT", "TIMEREF": "LOCAL"}
_GADF_CARDS = {"HDUCLASS": "GADF", "HDUDOC": GADF_DOC, "HDUVERS": "0.3"}


@dataclass(frozen=True)
class ObservationSpec:
    """One run to simulate.

    Parameters
    ----------
    obs_id : int
        Observation id.
    ra_pnt, dec_pnt : float
        Pointing (deg, ICRS).
    tstart : float
        Start of the run in seconds since the reference time (``MJDREFI``/``MJDREFF``, TT).
    duration : float
        Length of the run (s).
    deadc : float
        Dead-time correction: livetime = ontime · ``deadc``.
    zenith, azimuth : float
        Mean pointing zenith and azimuth angles (deg); the zenith sets the IRFs.
    gti : tuple of (float, float), optional
        Good time intervals in seconds from ``tstart`` (default: the whole run).
    """

    obs_id: int
    ra_pnt: float
    dec_pnt: float
    tstart: float = DEFAULT_TSTART
    duration: float = 1680.0
    deadc: float = 0.94
    zenith: float = 30.0
    azimuth: float = 180.0
    gti: tuple = None

    def __post_init__(self):
        if int(self.obs_id) != self.obs_id or self.obs_id < 0:
            raise ValueError(f"obs_id must be a non-negative integer, got {self.obs_id!r}")
        if not self.duration > 0:
            raise ValueError(f"obs {self.obs_id}: duration must be positive, got {self.duration}")
        if not 0 < self.deadc <= 1:
            raise ValueError(f"obs {self.obs_id}: deadc must be in (0, 1], got {self.deadc}")
        if not 0 <= self.zenith < 80:
            raise ValueError(f"obs {self.obs_id}: zenith must be within [0, 80) deg, got {self.zenith}")
        start, stop = self.gti_relative
        if np.any(start < 0) or np.any(stop > self.duration) or np.any(stop <= start) or np.any(start[1:] < stop[:-1]):
            raise ValueError(f"obs {self.obs_id}: GTIs must be ordered, non-overlapping and inside the run")

    @property
    def gti_relative(self):
        """GTI starts and stops in seconds from ``tstart``."""
        gti = ((0.0, self.duration),) if self.gti is None else self.gti
        array = np.asarray(gti, dtype=float).reshape(-1, 2)
        return array[:, 0], array[:, 1]

    @property
    def ontime(self):
        """Sum of the good time intervals (s)."""
        start, stop = self.gti_relative
        return float(np.sum(stop - start))

    @property
    def livetime(self):
        """Ontime times ``deadc`` (s)."""
        return self.ontime * self.deadc


@dataclass
class SimulationResult:
    """What `simulate_data_store` wrote: the directory and the events per run and per component."""

    path: Path
    obs_ids: list
    n_events: dict = field(default_factory=dict)
    n_source_events: dict = field(default_factory=dict)

    def __str__(self):
        total = sum(self.n_events.values())
        gammas = sum(self.n_source_events.values())
        return (f"simulated data store {self.path}: {len(self.obs_ids)} observations, {total} events "
                f"({gammas} from sources, {total - gammas} background)")


def _cycle(value, n):
    values = np.atleast_1d(np.asarray(value, dtype=float))
    return [float(values[i % len(values)]) for i in range(n)]


def wobble_observations(target=None, n_obs=4, offset=0.5, angles=(0.0, 180.0, 90.0, 270.0), obs_ids=None,
                        first_obs_id=1, tstart=DEFAULT_TSTART, duration=1680.0, gap=600.0, deadc=0.94,
                        zenith=30.0, azimuth=180.0, gti=None):
    """Wobble runs around a target: pointings at ``offset`` and cycling position ``angles`` (deg, east of north).

    ``zenith`` and ``azimuth`` may be sequences (cycled over the runs); runs follow
    each other with ``gap`` seconds between them; ``obs_ids`` overrides the
    sequential ids starting at ``first_obs_id``.

    Returns
    -------
    list of `ObservationSpec`
    """
    target = (crab_like_source().ra, crab_like_source().dec) if target is None else target
    n_obs = len(obs_ids) if obs_ids is not None else int(n_obs)
    if n_obs < 1:
        raise ValueError(f"n_obs must be at least 1, got {n_obs}")
    ids = list(obs_ids) if obs_ids is not None else list(range(first_obs_id, first_obs_id + n_obs))
    angle = _cycle(angles, n_obs)
    ra, dec = offset_by(target[0], target[1], np.full(n_obs, float(offset)), np.asarray(angle))
    zen, az = _cycle(zenith, n_obs), _cycle(azimuth, n_obs)
    return [
        ObservationSpec(int(ids[i]), float(ra[i]), float(dec[i]), tstart + i * (duration + gap), duration, deadc,
                        zen[i], az[i], gti)
        for i in range(n_obs)
    ]


def _check_formats(irf_type, psf, bkg):
    if irf_type not in IRF_TYPES:
        raise ValueError(f"irf_type must be one of {IRF_TYPES}, got {irf_type!r}")
    if psf not in PSF_FORMATS:
        raise ValueError(f"psf must be one of {PSF_FORMATS}, got {psf!r}")
    if bkg is not None and bkg not in BKG_FORMATS:
        raise ValueError(f"bkg must be one of {BKG_FORMATS} or None, got {bkg!r}")


def simulate_observation(spec, sources, rng, irf_model=None, irf_type="full-enclosure", psf="psf_table",
                         bkg="bkg_3d", rad_max=0.11, background=True, energy_range=(0.01, 100.0),
                         samplers=None, extra_cards=None):
    """Simulate one run: its HDUs (EVENTS, GTI and the IRFs) and the number of source events.

    Parameters
    ----------
    spec : `ObservationSpec`
        The run.
    sources : list of `~dl3lab.reduction.simulate.SkySource`
        Gamma-ray sources (may be empty).
    rng : `numpy.random.Generator`
        Random generator.
    irf_model : `~dl3lab.reduction.simulate.IRFModel`, optional
        Analytic response (default: ``IRFModel()``, King-shaped for ``psf="psf_king"``).
    irf_type, psf, bkg, rad_max
        IRF variant, see `simulate_data_store`.
    background : bool
        Whether to add background events (drawn from the background table).
    energy_range : tuple of float
        True-energy range of the gamma rays (TeV).
    samplers : dict, optional
        Cache of `BackgroundSampler` by zenith, shared between runs.
    extra_cards : dict, optional
        Keywords added to the EVENTS header.

    Returns
    -------
    hdus : list of `~astropy.io.fits.BinTableHDU`
    n_source : int
    """
    _check_formats(irf_type, psf, bkg)
    model = irf_model or IRFModel(psf_model="king" if psf == "psf_king" else "3gauss")
    meta = {"TELESCOP": TELESCOP, "INSTRUME": "H.E.S.S.-like (simulated)", "OBS_ID": int(spec.obs_id)}
    irfs = make_irfs(model, spec.zenith, irf_type, psf, bkg, rad_max, meta=meta)
    pointing = (spec.ra_pnt, spec.dec_pnt)
    parts, ids = [], []
    for i, source in enumerate(sources):
        part = sample_source_events(rng, source, model, pointing, spec.livetime, spec.zenith, energy_range)
        parts.append(part)
        ids.append(np.full(len(part["ra"]), i + 1))
    n_source = sum(len(p["ra"]) for p in parts)
    if background:
        samplers = {} if samplers is None else samplers
        key = (float(spec.zenith), bkg or "bkg_3d", model)
        if key not in samplers:
            table = irfs["bkg"] if "bkg" in irfs else make_irfs(model, spec.zenith, bkg="bkg_3d", meta=meta)["bkg"]
            samplers[key] = BackgroundSampler(table)
        part = sample_background_events(rng, samplers[key], pointing, spec.ontime)
        parts.append(part)
        ids.append(np.zeros(len(part["ra"]), dtype=int))
    columns = {k: np.concatenate([p[k] for p in parts]) if parts else np.zeros(0) for k in ("ra", "dec", "energy")}
    columns["mc_id"] = np.concatenate(ids) if ids else np.zeros(0, dtype=int)
    gti_start, gti_stop = spec.gti_relative
    times = sample_times(rng, len(columns["ra"]), spec.tstart + gti_start, spec.tstart + gti_stop)
    order = np.argsort(times, kind="stable")
    columns = {"time": times[order], **{k: v[order] for k, v in columns.items()}}
    target = sources[0] if sources else SkySource(spec.ra_pnt, spec.dec_pnt, name="empty field")
    tstop = spec.tstart + spec.duration
    cards = {
        **_GADF_CARDS, "HDUCLAS1": "EVENTS", "OBS_ID": int(spec.obs_id), "TELESCOP": TELESCOP,
        "INSTRUME": meta["INSTRUME"], "CREATOR": "dl3lab simulate", "ORIGIN": ORIGIN, "OBJECT": target.name,
        "RA_OBJ": float(target.ra), "DEC_OBJ": float(target.dec), "RA_PNT": float(spec.ra_pnt),
        "DEC_PNT": float(spec.dec_pnt), "ALT_PNT": 90.0 - float(spec.zenith), "AZ_PNT": float(spec.azimuth),
        "OBS_MODE": "POINTING", "RADECSYS": "ICRS", "EQUINOX": 2000.0, "TSTART": float(spec.tstart),
        "TSTOP": float(tstop), "ONTIME": spec.ontime, "LIVETIME": spec.livetime, "DEADC": float(spec.deadc),
        **_TIME_CARDS, **HESS_SITE, "EUNIT": "TeV", "N_TELS": 4, **(extra_cards or {}),
    }
    gti_cards = {**_GADF_CARDS, "HDUCLAS1": "GTI", "OBS_ID": int(spec.obs_id), "TSTART": float(spec.tstart),
                 "TSTOP": float(tstop), **_TIME_CARDS}
    hdus = [events_hdu(columns, cards), gti_hdu(spec.tstart + gti_start, spec.tstart + gti_stop, gti_cards)]
    for irf in irfs.values():
        hdus.append(irf.to_table_hdu())
    return hdus, n_source


def _readme(sources, seed, irf_type, psf, bkg, rad_max, n_obs):
    lines = [
        "Simulated IACT DL3 data (GADF), written by `dl3lab simulate`.",
        "",
        "These are not real observations: events were drawn by Poisson sampling from",
        "H.E.S.S.-like parametrised instrument responses (dl3lab.reduction.simulate).",
        "",
        f"observations: {n_obs}",
        f"seed: {seed}",
        f"IRFs: {irf_type}" + (f", RAD_MAX = {rad_max} deg" if irf_type == "point-like" else f", {psf}")
        + (f", {bkg}" if bkg else ", no background table"),
        "sources:",
    ]
    for s in sources:
        sp = s.spectrum
        shape = "point" if s.is_point else f"Gaussian sigma = {s.sigma} deg"
        lines.append(f"  - {s.name}: RA {s.ra} deg, Dec {s.dec} deg, {shape}, power law "
                     f"{sp.amplitude:g} cm-2 s-1 TeV-1 at {sp.reference} TeV, index {sp.index}")
    if not sources:
        lines.append("  (none: background only)")
    return "\n".join(lines) + "\n"


def _index_tables(results, sources, seed, irf_type, psf, bkg, model):
    obs_rows = {k: [] for k in ("OBS_ID", "RA_PNT", "DEC_PNT", "ZEN_PNT", "ALT_PNT", "AZ_PNT", "OBJECT", "ONTIME",
                                "LIVETIME", "DEADC", "TSTART", "TSTOP", "EVENT_COUNT", "SAFE_ENERGY_LO",
                                "SAFE_ENERGY_HI")}
    hdu_rows = {k: [] for k in ("OBS_ID", "HDU_TYPE", "HDU_CLASS", "FILE_DIR", "FILE_NAME", "HDU_NAME")}
    name = sources[0].name if sources else "empty field"
    for spec, file_name, n_events in results:
        values = (spec.obs_id, spec.ra_pnt, spec.dec_pnt, spec.zenith, 90 - spec.zenith, spec.azimuth, name,
                  spec.ontime, spec.livetime, spec.deadc, spec.tstart, spec.tstart + spec.duration, n_events,
                  model.safe_energy_threshold(spec.zenith), model.hi_threshold)
        for key, value in zip(obs_rows, values):
            obs_rows[key].append(value)
        hdus = [("events", "events", "EVENTS"), ("gti", "gti", "GTI"), ("aeff", "aeff_2d", "AEFF"),
                ("edisp", "edisp_2d", "EDISP")]
        if irf_type == "full-enclosure":
            hdus.append(("psf", psf, "PSF"))
        if bkg is not None:
            hdus.append(("bkg", bkg, "BKG"))
        for hdu_type, hdu_class, hdu_name in hdus:
            for key, value in zip(hdu_rows, (spec.obs_id, hdu_type, hdu_class, "data", file_name, hdu_name)):
                hdu_rows[key].append(value)
    units = {"RA_PNT": u.deg, "DEC_PNT": u.deg, "ZEN_PNT": u.deg, "ALT_PNT": u.deg, "AZ_PNT": u.deg,
             "ONTIME": u.s, "LIVETIME": u.s, "TSTART": u.s, "TSTOP": u.s, "SAFE_ENERGY_LO": u.TeV,
             "SAFE_ENERGY_HI": u.TeV}
    obs_cols = {k: (u.Quantity(v, units[k]) if k in units else np.asarray(v)) for k, v in obs_rows.items()}
    obs_cols["OBS_ID"] = np.asarray(obs_rows["OBS_ID"], dtype=np.int64)
    obs_cols["EVENT_COUNT"] = np.asarray(obs_rows["EVENT_COUNT"], dtype=np.int64)
    common = {**_GADF_CARDS, "HDUCLAS1": "INDEX", "TELESCOP": TELESCOP, "ORIGIN": ORIGIN,
              "CREATOR": "dl3lab simulate", "SIMSEED": str(seed)}
    obs_hdu = index_hdu(obs_cols, {**common, "HDUCLAS2": "OBS", **_TIME_CARDS, **HESS_SITE}, "OBS_INDEX")
    hdu_cols = {k: np.asarray(v) for k, v in hdu_rows.items()}
    hdu_cols["OBS_ID"] = np.asarray(hdu_rows["OBS_ID"], dtype=np.int64)
    hdu_hdu = index_hdu(hdu_cols, {**common, "HDUCLAS2": "HDU"}, "HDU_INDEX")
    return obs_hdu, hdu_hdu


def simulate_data_store(path, sources=None, observations=None, *, n_obs=4, seed=0, irf_type="full-enclosure",
                        psf="psf_table", bkg="bkg_3d", rad_max=0.11, irf_model=None, background=True,
                        energy_range=(0.01, 100.0), overwrite=False, **wobble):
    """Write a complete simulated GADF data store.

    The directory gets ``obs-index.fits.gz``, ``hdu-index.fits.gz``, ``README.txt``
    and one file per run in ``data/``. Each run's events are drawn with its own
    generator seeded by ``(seed, obs_id)``, so the same seed gives byte-identical
    files. Files are written to temporary names first and renamed at the end.

    Parameters
    ----------
    path : path
        Target directory (created if needed). Nothing is written outside it.
    sources : list of `~dl3lab.reduction.simulate.SkySource`, optional
        Gamma-ray sources; default: one Crab-like point source. ``[]`` gives background only.
    observations : list of `ObservationSpec`, optional
        The runs; default: `wobble_observations` around the first source with ``n_obs``
        runs and the keyword arguments ``**wobble`` (``target``, ``offset``, ``angles``,
        ``duration``, ``deadc``, ``zenith``, ``azimuth``, ``gti``, ``obs_ids`` ...).
    n_obs : int
        Number of runs of the default plan.
    seed : int
        Random seed.
    irf_type : {"full-enclosure", "point-like"}
        Point-like IRFs have a fixed ``RAD_MAX`` keyword and no PSF.
    psf : {"psf_table", "psf_3gauss", "psf_king"}
        PSF format of full-enclosure IRFs.
    bkg : {"bkg_3d", "bkg_2d"} or None
        Background table format (None: no background HDU; background events, if any,
        still follow the default ``bkg_3d`` rate).
    rad_max : float
        Point-like theta cut (deg).
    irf_model : `~dl3lab.reduction.simulate.IRFModel`, optional
        Analytic response.
    background : bool
        Whether to add background events.
    energy_range : tuple of float
        True-energy range of the gamma rays (TeV).
    overwrite : bool
        Replace existing files; otherwise an existing target file raises `FileExistsError`.

    Returns
    -------
    `SimulationResult`
    """
    _check_formats(irf_type, psf, bkg)
    sources = [crab_like_source()] if sources is None else list(sources)
    model = irf_model or IRFModel(psf_model="king" if psf == "psf_king" else "3gauss")
    if irf_type == "full-enclosure":
        from .tables import psf_table

        psf_table(model, psf, {})  # fail early on an incompatible PSF model and format
    if observations is None:
        target = wobble.pop("target", None)
        if target is None and sources:
            target = (sources[0].ra, sources[0].dec)
        observations = wobble_observations(target, n_obs=n_obs, **wobble)
    elif wobble:
        raise TypeError(f"wobble options {sorted(wobble)} need observations=None")
    ids = [spec.obs_id for spec in observations]
    if len(set(ids)) != len(ids):
        raise ValueError(f"observation ids must be unique, got {ids}")
    root = Path(path)
    names = {spec.obs_id: f"dl3lab_sim_obs_id_{spec.obs_id:06d}.fits.gz" for spec in observations}
    # The HDU index comes last: the renames at the end follow this order, so a store whose
    # HDU index exists is complete.
    targets = [root / "data" / names[i] for i in ids]
    targets += [root / "README.txt", root / "obs-index.fits.gz", root / "hdu-index.fits.gz"]
    if not overwrite:
        for target in targets:
            if target.exists():
                raise FileExistsError(f"{target} already exists; use overwrite=True (--overwrite) to replace it")
    (root / "data").mkdir(parents=True, exist_ok=True)
    result = SimulationResult(path=root, obs_ids=ids)
    samplers, rows = {}, []
    with atomic_paths(targets, overwrite=overwrite) as temporary:
        for spec, tmp in zip(observations, temporary[: len(ids)]):
            rng = np.random.default_rng([int(seed), int(spec.obs_id)])
            hdus, n_source = simulate_observation(
                spec, sources, rng, model, irf_type, psf, bkg, rad_max, background, energy_range, samplers,
                extra_cards={"SIMSEED": str(seed)},
            )
            n_events = int(hdus[0].header["NAXIS2"])
            tmp.write_bytes(gzip_bytes(fits_bytes(hdus)))
            rows.append((spec, names[spec.obs_id], n_events))
            result.n_events[spec.obs_id] = n_events
            result.n_source_events[spec.obs_id] = n_source
        obs_hdu, hdu_hdu = _index_tables(rows, sources, seed, irf_type, psf, bkg, model)
        temporary[-3].write_text(_readme(sources, seed, irf_type, psf, bkg, rad_max, len(ids)), encoding="utf-8")
        temporary[-2].write_bytes(gzip_bytes(fits_bytes([obs_hdu])))
        temporary[-1].write_bytes(gzip_bytes(fits_bytes([hdu_hdu])))
    return result
