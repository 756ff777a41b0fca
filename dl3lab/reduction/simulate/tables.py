"""GADF IRF tables tabulated from an `~dl3lab.reduction.simulate.IRFModel`.

Every table is a dl3lab IRF object, so it is written with its own ``to_table_hdu``
and read back by the reduction exactly like recorded data. Values are stored as
float32, as in H.E.S.S. files.
"""

import numpy as np
from astropy import units as u
from scipy.special import ndtr

from ..axes import MapAxis
from ..irf import (
    PSF3D,
    Background2D,
    Background3D,
    EffectiveAreaTable2D,
    EnergyDependentMultiGaussPSF,
    EnergyDispersion2D,
    PSFKing,
)

__all__ = ["PSF_FORMATS", "BKG_FORMATS", "IRF_TYPES", "make_irfs", "table_axes"]

#: GADF PSF classes the simulator writes.
PSF_FORMATS = ("psf_table", "psf_3gauss", "psf_king")
#: GADF background classes the simulator writes.
BKG_FORMATS = ("bkg_3d", "bkg_2d")
#: IRF kinds.
IRF_TYPES = ("full-enclosure", "point-like")

_SR_PER_DEG2 = (np.pi / 180) ** 2


def table_axes():
    """The axes of the simulated IRF tables, by name."""
    rad_edges = np.concatenate([np.linspace(0, 0.5, 51), np.linspace(0.55, 1.5, 20)])
    return {
        "aeff_energy": MapAxis.from_energy_bounds(0.01, 100, 64, unit="TeV", name="energy_true"),
        "aeff_offset": MapAxis.from_bounds(0, 3, 12, name="offset", unit="deg"),
        "irf_energy": MapAxis.from_energy_bounds(0.01, 100, 32, unit="TeV", name="energy_true"),
        "irf_offset": MapAxis.from_bounds(0, 3, 6, name="offset", unit="deg"),
        "rad": MapAxis.from_edges(rad_edges, name="rad", unit="deg"),
        "bkg_energy": MapAxis.from_energy_bounds(0.05, 100, 20, unit="TeV", name="energy"),
        "fov_lon": MapAxis.from_bounds(-3, 3, 24, name="fov_lon", unit="deg"),
        "fov_lat": MapAxis.from_bounds(-3, 3, 24, name="fov_lat", unit="deg"),
        "bkg_offset": MapAxis.from_bounds(0, 3, 12, name="offset", unit="deg"),
    }


def _centres(axis):
    return axis.center.to_value(axis.unit)


def aeff_table(model, zenith, meta, rad_max=None):
    """Effective area (point-like when ``rad_max`` is given: times the PSF containment within it)."""
    axes = table_axes()
    energy, offset = axes["aeff_energy"], axes["aeff_offset"]
    e, th = np.meshgrid(_centres(energy), _centres(offset), indexing="ij")
    area = model.aeff(e, th, zenith)
    meta = dict(meta, EXTNAME="AEFF", LO_THRES=model.safe_energy_threshold(zenith), HI_THRES=model.hi_threshold)
    if rad_max is not None:
        area = area * model.psf_containment(rad_max, e, th)
        meta["RAD_MAX"] = float(rad_max)
    return EffectiveAreaTable2D(
        axes=[energy, offset], data=area.astype(np.float32), unit="m2", meta=meta, is_pointlike=rad_max is not None
    )


def edisp_table(model, zenith, meta, rad_max=None):
    """Migration density: the truncated Gaussian integrated over each migra bin, divided by its width."""
    axes = table_axes()
    energy, offset = axes["irf_energy"], axes["irf_offset"]
    lo, hi = model.migra_range
    migra = MapAxis.from_bounds(lo, hi, int(round((hi - lo) / 0.02)), name="migra", unit="")
    edges = migra.edges.to_value("")
    e = _centres(energy)[:, None]
    mean = 1.0 + model.migration_bias(e, zenith)
    sigma = model.migration_sigma(e, zenith)
    cdf = ndtr((edges[None, :] - mean) / sigma)
    density = np.diff(cdf, axis=1) / (cdf[:, -1:] - cdf[:, :1]) / np.diff(edges)[None, :]
    data = np.repeat(density[:, :, None], offset.nbin, axis=2)
    meta = dict(meta, EXTNAME="EDISP")
    if rad_max is not None:
        meta["RAD_MAX"] = float(rad_max)
    return EnergyDispersion2D(
        axes=[energy, migra, offset], data=data.astype(np.float32), meta=meta, is_pointlike=rad_max is not None
    )


def psf_table(model, fmt, meta):
    """PSF in one of the `PSF_FORMATS` (``psf_king`` needs the King model, ``psf_3gauss`` a Gaussian one)."""
    axes = table_axes()
    energy, offset = axes["irf_energy"], axes["irf_offset"]
    meta = dict(meta, EXTNAME="PSF")
    e, th = np.meshgrid(_centres(energy), _centres(offset), indexing="ij")
    if fmt == "psf_table":
        rad = _centres(axes["rad"])
        density = model.psf_density(rad[None, None, :], e[..., None], th[..., None]) / _SR_PER_DEG2
        return PSF3D(axes=[energy, offset, axes["rad"]], data=density.astype(np.float32), unit="sr-1", meta=meta)
    if fmt == "psf_king":
        if model.psf_model != "king":
            raise ValueError(f"psf_king tables need psf_model='king', not {model.psf_model!r}")
        gamma, sigma = model.psf_king(e, th)
        data = {"gamma": np.broadcast_to(gamma, e.shape), "sigma": sigma}
        return PSFKing(axes=[energy, offset], data=data, unit={"gamma": u.one, "sigma": u.deg}, meta=meta)
    if fmt == "psf_3gauss":
        if model.psf_model == "king":
            raise ValueError("psf_3gauss tables need a Gaussian psf_model ('gauss' or '3gauss'), not 'king'")
        sigmas, weights = model.psf_gaussians(e, th)
        sigmas = list(sigmas) + [sigmas[0]] * (3 - len(sigmas))
        weights = list(weights) + [0.0] * (3 - len(weights))
        s1 = sigmas[0]
        scale = weights[0] / (2 * s1**2)
        data = {f"sigma_{i + 1}": s for i, s in enumerate(sigmas)}
        data["scale"] = scale
        data["ampl_2"] = weights[1] * s1**2 / (weights[0] * sigmas[1] ** 2)
        data["ampl_3"] = weights[2] * s1**2 / (weights[0] * sigmas[2] ** 2)
        units = {"scale": u.Unit("deg-2"), "ampl_2": u.one, "ampl_3": u.one}
        units.update({f"sigma_{i}": u.deg for i in (1, 2, 3)})
        return EnergyDependentMultiGaussPSF(axes=[energy, offset], data=data, unit=units, meta=meta)
    raise ValueError(f"psf format must be one of {PSF_FORMATS}, got {fmt!r}")


def bkg_table(model, zenith, fmt, meta):
    """Background rate table (``bkg_3d`` is aligned with RA/Dec: ``FOVALIGN = 'RADEC'``)."""
    axes = table_axes()
    energy = axes["bkg_energy"]
    meta = dict(meta, EXTNAME="BKG")
    if fmt == "bkg_3d":
        lon, lat = axes["fov_lon"], axes["fov_lat"]
        rate = model.bkg_rate_fov(
            _centres(energy)[:, None, None], _centres(lon)[None, :, None], _centres(lat)[None, None, :], zenith
        )
        return Background3D(
            axes=[energy, lon, lat], data=rate.astype(np.float32), unit="s-1 MeV-1 sr-1", meta=meta,
            fov_alignment="RADEC",
        )
    if fmt == "bkg_2d":
        offset = axes["bkg_offset"]
        rate = model.bkg_rate_offset(_centres(energy)[:, None], _centres(offset)[None, :], zenith)
        return Background2D(axes=[energy, offset], data=rate.astype(np.float32), unit="s-1 MeV-1 sr-1", meta=meta)
    raise ValueError(f"background format must be one of {BKG_FORMATS}, got {fmt!r}")


def make_irfs(model, zenith, irf_type="full-enclosure", psf="psf_table", bkg="bkg_3d", rad_max=0.11, meta=None):
    """All IRF tables of one observation.

    Parameters
    ----------
    model : `~dl3lab.reduction.simulate.IRFModel`
        The analytic response.
    zenith : float
        Zenith angle (deg).
    irf_type : {"full-enclosure", "point-like"}
        Point-like IRFs carry a fixed ``RAD_MAX`` keyword and no PSF.
    psf : str or None
        One of `PSF_FORMATS` (ignored for point-like IRFs).
    bkg : str or None
        One of `BKG_FORMATS`, or None for no background table.
    rad_max : float
        Point-like theta cut (deg).
    meta : dict, optional
        Keywords added to every table (``OBS_ID``, ``TELESCOP`` ...).

    Returns
    -------
    dict
        ``{hdu_type: IRF}`` with ``aeff``, ``edisp`` and, as requested, ``psf`` and ``bkg``.
    """
    if irf_type not in IRF_TYPES:
        raise ValueError(f"irf_type must be one of {IRF_TYPES}, got {irf_type!r}")
    if bkg is not None and bkg not in BKG_FORMATS:
        raise ValueError(f"background format must be one of {BKG_FORMATS}, got {bkg!r}")
    pointlike = irf_type == "point-like"
    if pointlike and not (rad_max is not None and rad_max > 0):
        raise ValueError(f"point-like IRFs need a positive rad_max, got {rad_max!r}")
    meta = dict(meta or {})
    cut = float(rad_max) if pointlike else None
    aeff_meta = dict(meta, ZENITH=float(zenith))
    irfs = {"aeff": aeff_table(model, zenith, aeff_meta, cut), "edisp": edisp_table(model, zenith, meta, cut)}
    if not pointlike:
        irfs["psf"] = psf_table(model, psf, meta)
    if bkg is not None:
        irfs["bkg"] = bkg_table(model, zenith, bkg, meta)
    return irfs
