"""Expected counts of a simulated source: its input spectrum integrated through the analytic response.

A reduction of simulated data should find, within the errors, the excess these
functions predict: they are the known answer that tests and tutorials compare with.
"""

import numpy as np

from .irfs import IRFModel
from .sky import angular_separation
from .store import ObservationSpec

__all__ = ["observation_spec", "predicted_source_counts"]

_CM2_PER_M2 = 1e4


def observation_spec(observation):
    """The `ObservationSpec` (pointing, ontime, dead time, zenith) of a DL3 observation.

    Parameters
    ----------
    observation : `~dl3lab.reduction.Observation`
        An observation of a data store (simulated or real). The zenith angle is
        ``ZENITH`` of the effective area (the zenith of the IRFs), else ``ZEN_PNT``
        or ``90 - ALT_PNT`` of the events header.

    Returns
    -------
    `ObservationSpec`
        With one good time interval as long as the observation's ontime.
    """
    header = observation.events_header
    zenith = observation.aeff.meta.get("ZENITH", header.get("ZEN_PNT"))
    if zenith is None and header.get("ALT_PNT") is not None:
        zenith = 90.0 - float(header["ALT_PNT"])
    if zenith is None:
        raise ValueError(f"obs {observation.obs_id}: no ZENITH in the effective area, no ZEN_PNT or ALT_PNT "
                         "in the events header")
    pointing = observation.get_pointing_icrs()
    return ObservationSpec(
        obs_id=int(observation.obs_id), ra_pnt=float(pointing.ra.deg), dec_pnt=float(pointing.dec.deg),
        duration=float(observation.ontime.to_value("s")),
        deadc=1.0 - float(observation.observation_dead_time_fraction), zenith=float(zenith),
    )


def _containment(model, source, radius, energy, offset):
    if source.is_point:
        return model.psf_containment(radius, energy, offset)
    if model.psf_model == "king":
        raise ValueError("predicted counts of an extended source need a Gaussian PSF model (gauss or 3gauss)")
    sigmas, weights = model.psf_gaussians(energy, offset)
    return sum(w * -np.expm1(-0.5 * radius**2 / (s**2 + source.sigma**2)) for s, w in zip(sigmas, weights))


def predicted_source_counts(source, observations, radius, energy_min, energy_max, irf_model=None,
                            energy_true_range=(0.01, 100.0), n_energy=8001):
    """Expected gamma rays of ``source`` within ``radius`` of its centre and reco energy ``energy_min``-``energy_max``.

    Integrates spectrum x effective area x livetime x PSF containment (the PSF
    convolved with a Gaussian extension) x probability of migrating into the reco
    range, over true energy, for each observation; the area is taken at the offset
    of the source centre.

    Parameters
    ----------
    source : `~dl3lab.reduction.simulate.SkySource`
        The simulated source.
    observations : list of `ObservationSpec` or `~dl3lab.reduction.Observation`
        The runs (observations are read with `observation_spec`).
    radius : float
        Radius of the ON region around the source (deg).
    energy_min, energy_max : float
        Reco-energy range (TeV).
    irf_model : `~dl3lab.reduction.simulate.IRFModel`, optional
        The response the data were simulated with (default: ``IRFModel()``).
    energy_true_range : tuple of float
        True-energy range of the simulation (TeV).
    n_energy : int
        Number of log-spaced integration points.

    Returns
    -------
    float
        Expected counts, summed over the observations.
    """
    model = irf_model or IRFModel()
    energy = np.geomspace(*energy_true_range, n_energy)
    total = 0.0
    for obs in observations:
        spec = obs if isinstance(obs, ObservationSpec) else observation_spec(obs)
        offset = angular_separation(spec.ra_pnt, spec.dec_pnt, source.ra, source.dec)
        area = model.aeff(energy, offset, spec.zenith)
        containment = _containment(model, source, radius, energy, offset)
        migrate = (model.migration_cdf(energy_max / energy, energy, spec.zenith)
                   - model.migration_cdf(energy_min / energy, energy, spec.zenith))
        rate = source.spectrum(energy) * _CM2_PER_M2 * area * containment * migrate * spec.livetime
        total += np.trapezoid(rate * energy, np.log(energy))
    return float(total)
