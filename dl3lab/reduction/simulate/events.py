"""Drawing the events of one observation.

Gamma rays are drawn from the analytic truth (`IRFModel`): the number of photons
detected in fine true-energy bins is Poisson distributed around
``livetime · ∫ φ(E') A_bound(E') dE'`` with ``A_bound`` an upper bound of the
effective area over the bin and the source; each photon is then kept with
probability ``A(E', θ) / A_bound`` (thinning, exact for extended sources), moved by
the PSF and given a reconstructed energy by the migration.

Background events are drawn from the background *table* as the reduction evaluates
it (log-linear in energy between nodes, multilinear in the FoV coordinates), on a
fine grid of FoV pixels: the expected number per pixel and energy segment is
``ontime · Ω · ∫ R dE``, exactly what the reduction predicts (spec §4.3).
"""

import numpy as np

from ..interpolation import trapz_loglog
from .sky import angular_separation, fov_to_sky, offset_by

__all__ = ["sample_source_events", "sample_background_events", "BackgroundSampler", "sample_times"]

_MEV_PER_TEV = 1e6
_CM2_PER_M2 = 1e4


def _empty():
    return {k: np.zeros(0) for k in ("ra", "dec", "energy", "energy_true")}


def sample_source_events(rng, source, model, pointing, livetime, zenith, energy_range=(0.01, 100.0), n_fine=600):
    """Detected gamma rays of one source.

    Parameters
    ----------
    rng : `numpy.random.Generator`
        Random generator.
    source : `~dl3lab.reduction.simulate.SkySource`
        The source.
    model : `~dl3lab.reduction.simulate.IRFModel`
        The analytic response.
    pointing : tuple of float
        ``(ra, dec)`` of the pointing (deg).
    livetime : float
        Live time (s).
    zenith : float
        Zenith angle (deg).
    energy_range : tuple of float
        True-energy range simulated (TeV).
    n_fine : int
        Number of log-spaced true-energy bins of the thinning envelope.

    Returns
    -------
    dict of `~numpy.ndarray`
        ``ra``, ``dec`` (deg), ``energy`` (reco, TeV) and ``energy_true`` (TeV).
    """
    e_min, e_max = energy_range
    edges = np.geomspace(e_min, e_max, n_fine + 1)
    theta_src = float(angular_separation(pointing[0], pointing[1], source.ra, source.dec))
    theta_min = max(0.0, theta_src - 6.0 * source.sigma)
    # The area rises with energy and falls with offset: its bound over a bin is the upper edge at theta_min.
    bound = np.maximum(model.aeff(edges[1:], theta_min, zenith), model.aeff(edges[:-1], theta_min, zenith))
    mean = livetime * source.spectrum.integral(edges[:-1], edges[1:]) * _CM2_PER_M2 * bound
    counts = rng.poisson(mean)
    n = int(counts.sum())
    if n == 0:
        return _empty()
    idx = np.repeat(np.arange(n_fine), counts)
    energy_true = source.spectrum.sample_in_bins(rng, edges[idx], edges[idx + 1])
    ra, dec = source.sample_positions(rng, n)
    offset = angular_separation(pointing[0], pointing[1], ra, dec)
    accept = rng.random(n) * bound[idx] < model.aeff(energy_true, offset, zenith)
    energy_true, ra, dec, offset = energy_true[accept], ra[accept], dec[accept], offset[accept]
    rad = model.sample_psf(rng, energy_true, offset)
    ra, dec = offset_by(ra, dec, rad, rng.random(len(rad)) * 360.0)
    energy = energy_true * model.sample_migration(rng, energy_true, zenith)
    return {"ra": ra, "dec": dec, "energy": energy, "energy_true": energy_true}


class BackgroundSampler:
    """Expected background counts of a background table on a fine FoV grid, ready for sampling.

    Parameters
    ----------
    bkg : `~dl3lab.reduction.irf.Background3D` or `~dl3lab.reduction.irf.Background2D`
        The table, evaluated as the reduction does.
    pixel_size : float
        Size of the FoV grid pixels (deg).
    """

    def __init__(self, bkg, pixel_size=0.05):
        self.bkg = bkg
        e_axis = bkg.axes["energy"]
        unit = e_axis.unit
        # Between consecutive points the interpolated log rate is linear in log energy (a power law).
        self.energy = np.unique(np.concatenate([e_axis.edges.to_value(unit)[[0, -1]], e_axis.center.to_value(unit)]))
        self.energy_tev = self.energy * unit.to("TeV")
        if "fov_lon" in bkg.axes.names:
            lon_edges = bkg.axes["fov_lon"].edges.to_value("deg")
            lat_edges = bkg.axes["fov_lat"].edges.to_value("deg")
        else:
            r = bkg.axes["offset"].edges.to_value("deg")[-1]
            lon_edges = lat_edges = np.array([-r, r])
        self.lon_edges = self._grid(lon_edges, pixel_size)
        self.lat_edges = self._grid(lat_edges, pixel_size)
        lon_c = 0.5 * (self.lon_edges[1:] + self.lon_edges[:-1])
        lat_c = 0.5 * (self.lat_edges[1:] + self.lat_edges[:-1])
        lon, lat = np.meshgrid(lon_c, lat_c, indexing="ij")
        self.lon, self.lat = lon.ravel(), lat.ravel()
        if "fov_lon" in bkg.axes.names:
            coords = {"fov_lon": self.lon[None, :], "fov_lat": self.lat[None, :]}
        else:
            coords = {"offset": np.hypot(self.lon, self.lat)[None, :]}
        rate = bkg.evaluate(energy=self.energy[:, None] * unit, **coords)
        self.rate = rate.to_value("s-1 MeV-1 sr-1")
        width = np.radians(np.diff(self.lon_edges))[:, None] * np.radians(np.diff(self.lat_edges))[None, :]
        solid_angle = (width * np.cos(np.radians(lat_c))[None, :]).ravel()
        # Expected counts per second of ontime, shape (n_segments, n_pixels).
        self.rate_per_cell = trapz_loglog(self.rate, self.energy_tev, axis=0) * _MEV_PER_TEV * solid_angle[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            log_step = np.log(self.energy_tev[1:] / self.energy_tev[:-1])[:, None]
            index = -np.log(self.rate[1:] / self.rate[:-1]) / log_step
        self.index = np.where(np.isfinite(index), index, 0.0)

    @staticmethod
    def _grid(edges, pixel_size):
        lo, hi = edges[0], edges[-1]
        n = max(1, int(np.ceil((hi - lo) / pixel_size - 1e-9)))
        return np.linspace(lo, hi, n + 1)

    @property
    def rate_total(self):
        """Expected background events per second of ontime."""
        return float(self.rate_per_cell.sum())

    def sample(self, rng, ontime):
        """FoV coordinates (deg) and energies (TeV) of the background events of ``ontime`` seconds."""
        counts = rng.poisson(self.rate_per_cell * ontime).ravel()
        n = int(counts.sum())
        cell = np.repeat(np.arange(counts.size), counts)
        seg, pix = np.divmod(cell, self.rate_per_cell.shape[1])
        e0, e1 = self.energy_tev[seg], self.energy_tev[seg + 1]
        g = 1.0 - self.index[seg, pix]
        u = rng.random(n)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            power = (e0**g + u * (e1**g - e0**g)) ** (1.0 / g)
        energy = np.where(np.abs(g) < 1e-9, e0 * (e1 / e0) ** u, power)
        i_lon, i_lat = np.divmod(pix, len(self.lat_edges) - 1)
        lon = self.lon_edges[i_lon] + rng.random(n) * np.diff(self.lon_edges)[i_lon]
        lat = self.lat_edges[i_lat] + rng.random(n) * np.diff(self.lat_edges)[i_lat]
        return lon, lat, energy


def sample_background_events(rng, sampler, pointing, ontime):
    """Background events around ``pointing`` (ra, dec in deg) for ``ontime`` seconds.

    Returns
    -------
    dict of `~numpy.ndarray`
        ``ra``, ``dec`` (deg) and ``energy`` (TeV).
    """
    lon, lat, energy = sampler.sample(rng, ontime)
    ra, dec = fov_to_sky(lon, lat, pointing[0], pointing[1], alignment="RADEC")
    return {"ra": ra, "dec": dec, "energy": energy}


def sample_times(rng, n, gti_start, gti_stop):
    """``n`` event times uniformly distributed over the good time intervals (in draw order, not sorted)."""
    start = np.asarray(gti_start, dtype=float)
    stop = np.asarray(gti_stop, dtype=float)
    duration = stop - start
    which = np.searchsorted(np.cumsum(duration)[:-1], rng.random(n) * duration.sum(), side="right")
    return start[which] + rng.random(n) * duration[which]
