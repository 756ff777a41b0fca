"""H.E.S.S.-like parametrised instrument response of the simulator.

`IRFModel` holds the analytic truth from which events are drawn and from which
the GADF tables are tabulated (:mod:`dl3lab.reduction.simulate.tables`):

- effective area ``A(E', θ) = A_max(z) · g(E') · h(θ)``, with a rise in energy
  ``g = 1 / (1 + (E'/E_t(z))^-k)`` (``E_t`` grows with zenith angle ``z``) and a
  Gaussian fall with offset ``h = exp(-θ² / 2σ_θ²)``, zero beyond the camera radius;
- Gaussian migration ``μ = E/E'`` with a bias and a resolution that grow towards
  the threshold, truncated to the table's migra range;
- a single-Gauss, triple-Gauss or King PSF whose width shrinks with energy and
  grows with offset;
- a background rate falling with energy (above a turn-over near threshold) and with
  offset, with an optional gradient along the FoV latitude (``bkg_3d`` only).
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

__all__ = ["IRFModel", "PSF_MODELS", "HESS_SITE"]

#: Analytic PSF shapes.
PSF_MODELS = ("gauss", "3gauss", "king")

#: Observatory location written to the EVENTS headers (the H.E.S.S. site).
HESS_SITE = {"GEOLON": 16.5002222222222, "GEOLAT": -23.2717777777778, "ALTITUDE": 1835.0}


def _cos_zenith(zenith):
    zenith = np.asarray(zenith, dtype=float)
    if np.any((zenith < 0) | (zenith >= 80)):
        raise ValueError(f"zenith angle must be within [0, 80) deg, got {zenith}")
    return np.cos(np.radians(zenith))


@dataclass(frozen=True)
class IRFModel:
    """Parameters of the analytic instrument response (energies in TeV, angles in deg).

    Parameters
    ----------
    aeff_max : float
        Effective-area plateau at zenith 0 (m²); it grows as ``cos(z)^-aeff_zenith_index``.
    threshold : float
        Energy where the area reaches half its plateau, at zenith 0; it grows as
        ``cos(z)^-threshold_zenith_index``.
    aeff_rise : float
        Slope ``k`` of the rise with energy.
    aeff_offset_sigma : float
        Width of the Gaussian fall of the area with offset.
    fov_radius : float
        Offset beyond which no gamma ray is detected.
    resolution, resolution_low : float
        Energy resolution ``σ = resolution + resolution_low · (E_t/E')^0.5`` (capped at 0.4).
    bias, bias_index : float
        Energy bias ``b = bias · (E_t/E')^bias_index`` (capped at 0.6).
    migra_range : tuple of float
        Migration range of the tables; the Gaussian is truncated to it.
    psf_model : {"gauss", "3gauss", "king"}
        PSF shape.
    psf_sigma, psf_energy_index, psf_offset_coeff : float
        Core width ``σ = psf_sigma · (E'/1 TeV)^-psf_energy_index · (1 + psf_offset_coeff θ²)``.
    psf_sigma_ratios, psf_weights : tuple of float
        Widths (relative to the core) and weights of the three Gaussians of ``3gauss``.
    king_gamma, king_sigma_ratio : float
        King index and width relative to the core width.
    bkg_rate : float
        Background rate at 1 TeV on axis, zenith 0, without turn-over (s⁻¹ MeV⁻¹ sr⁻¹).
    bkg_index : float
        Spectral index of the background above the turn-over.
    bkg_threshold_ratio, bkg_rise : float
        Turn-over of the background at ``bkg_threshold_ratio · E_t`` with slope ``bkg_rise``.
    bkg_offset_sigma : float
        Width of the Gaussian fall of the background with offset.
    bkg_gradient : float
        Linear gradient of the ``bkg_3d`` rate along the FoV latitude (per deg).
    safe_bias : float
        ``LO_THRES`` is the true energy where the bias falls to this value.
    hi_threshold : float
        ``HI_THRES`` (TeV).
    """

    aeff_max: float = 1.5e5
    aeff_zenith_index: float = 0.5
    threshold: float = 0.4
    threshold_zenith_index: float = 2.5
    aeff_rise: float = 2.0
    aeff_offset_sigma: float = 1.6
    fov_radius: float = 3.0
    resolution: float = 0.08
    resolution_low: float = 0.10
    bias: float = 0.2
    bias_index: float = 1.5
    migra_range: tuple = (0.2, 3.0)
    psf_model: str = "3gauss"
    psf_sigma: float = 0.05
    psf_energy_index: float = 0.2
    psf_offset_coeff: float = 0.05
    psf_sigma_ratios: tuple = (1.0, 2.0, 4.0)
    psf_weights: tuple = (0.8, 0.18, 0.02)
    king_gamma: float = 2.5
    king_sigma_ratio: float = 0.7
    bkg_rate: float = 1.5e-4
    bkg_index: float = 2.7
    bkg_threshold_ratio: float = 0.5
    bkg_rise: float = 4.0
    bkg_offset_sigma: float = 1.4
    bkg_gradient: float = 0.05
    safe_bias: float = 0.1
    hi_threshold: float = 100.0

    def __post_init__(self):
        if self.psf_model not in PSF_MODELS:
            raise ValueError(f"psf_model must be one of {PSF_MODELS}, got {self.psf_model!r}")
        positive = ("aeff_max", "threshold", "aeff_rise", "aeff_offset_sigma", "fov_radius", "psf_sigma",
                    "bkg_offset_sigma", "resolution", "safe_bias")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"IRFModel.{name} must be positive, got {getattr(self, name)}")
        if not self.king_gamma > 1:
            raise ValueError("IRFModel.king_gamma must be > 1")
        if not (0 < self.migra_range[0] < 1 < self.migra_range[1]):
            raise ValueError(f"migra_range must bracket 1, got {self.migra_range}")
        if len(self.psf_weights) != 3 or len(self.psf_sigma_ratios) != 3 or min(self.psf_weights) < 0:
            raise ValueError("psf_weights and psf_sigma_ratios need three values (weights >= 0)")

    # --------------------------------------------------------- effective area
    def energy_threshold(self, zenith):
        """Energy (TeV) where the area reaches half its plateau."""
        return self.threshold * _cos_zenith(zenith) ** -self.threshold_zenith_index

    def aeff_plateau(self, zenith):
        """Effective-area plateau (m²)."""
        return self.aeff_max * _cos_zenith(zenith) ** -self.aeff_zenith_index

    def aeff_energy_shape(self, energy_true, zenith):
        """Rise of the area with true energy, between 0 and 1."""
        x = np.asarray(energy_true, dtype=float) / self.energy_threshold(zenith)
        with np.errstate(divide="ignore", over="ignore"):
            return 1.0 / (1.0 + x**-self.aeff_rise)

    def aeff_offset_shape(self, offset):
        """Fall of the area with offset, 1 on axis and 0 beyond ``fov_radius``."""
        offset = np.asarray(offset, dtype=float)
        return np.where(offset <= self.fov_radius, np.exp(-0.5 * (offset / self.aeff_offset_sigma) ** 2), 0.0)

    def aeff(self, energy_true, offset, zenith):
        """Effective area (m²) at true energy (TeV) and offset (deg)."""
        return self.aeff_plateau(zenith) * self.aeff_energy_shape(energy_true, zenith) * self.aeff_offset_shape(offset)

    def aeff_fraction_energy(self, fraction, zenith):
        """True energy (TeV) where the area reaches ``fraction`` of its plateau (at any offset)."""
        return self.energy_threshold(zenith) * (1.0 / fraction - 1.0) ** (-1.0 / self.aeff_rise)

    # ------------------------------------------------------- energy migration
    def migration_bias(self, energy_true, zenith):
        """Mean migration minus one, before truncation."""
        x = self.energy_threshold(zenith) / np.asarray(energy_true, dtype=float)
        return np.minimum(self.bias * x**self.bias_index, 0.6)

    def migration_sigma(self, energy_true, zenith):
        """Width of the Gaussian migration, before truncation."""
        x = self.energy_threshold(zenith) / np.asarray(energy_true, dtype=float)
        return np.minimum(self.resolution + self.resolution_low * np.sqrt(x), 0.4)

    def bias_energy(self, bias, zenith):
        """True energy (TeV) where the bias falls to ``bias`` (below the 0.6 cap)."""
        return self.energy_threshold(zenith) * (self.bias / bias) ** (1.0 / self.bias_index)

    def safe_energy_threshold(self, zenith):
        """``LO_THRES`` written to the effective-area header (TeV)."""
        return float(self.bias_energy(self.safe_bias, zenith))

    def _migration_bounds(self, energy_true, zenith):
        mean = 1.0 + self.migration_bias(energy_true, zenith)
        sigma = self.migration_sigma(energy_true, zenith)
        lo, hi = self.migra_range
        return mean, sigma, ndtr((lo - mean) / sigma), ndtr((hi - mean) / sigma)

    def migration_cdf(self, migra, energy_true, zenith):
        """Probability of a migration below ``migra`` (Gaussian truncated to ``migra_range``)."""
        mean, sigma, c_lo, c_hi = self._migration_bounds(energy_true, zenith)
        cdf = (ndtr((np.asarray(migra, dtype=float) - mean) / sigma) - c_lo) / (c_hi - c_lo)
        return np.clip(cdf, 0.0, 1.0)

    def sample_migration(self, rng, energy_true, zenith):
        """One migration per true energy, from the truncated Gaussian."""
        mean, sigma, c_lo, c_hi = self._migration_bounds(energy_true, zenith)
        u = c_lo + rng.random(np.shape(energy_true)) * (c_hi - c_lo)
        lo, hi = self.migra_range
        return np.clip(mean + sigma * ndtri(u), lo, hi)

    # ---------------------------------------------------------------- PSF
    def psf_core_sigma(self, energy_true, offset):
        """Core width (deg) of the PSF."""
        energy_true = np.asarray(energy_true, dtype=float)
        offset = np.asarray(offset, dtype=float)
        sigma = self.psf_sigma * energy_true**-self.psf_energy_index * (1 + self.psf_offset_coeff * offset**2)
        return np.clip(sigma, 0.01, 0.5)

    def psf_gaussians(self, energy_true, offset):
        """Widths (deg) and weights of the Gaussian components (``gauss`` and ``3gauss`` models)."""
        core = self.psf_core_sigma(energy_true, offset)
        if self.psf_model == "gauss":
            return [core], [1.0]
        total = float(sum(self.psf_weights))
        return [core * r for r in self.psf_sigma_ratios], [w / total for w in self.psf_weights]

    def psf_king(self, energy_true, offset):
        """King ``(gamma, sigma)`` (``king`` model)."""
        return self.king_gamma, self.psf_core_sigma(energy_true, offset) * self.king_sigma_ratio

    def psf_density(self, rad, energy_true, offset):
        """PSF density in deg⁻² at angular distance ``rad`` (deg) from the true direction."""
        rad = np.asarray(rad, dtype=float)
        if self.psf_model == "king":
            gamma, sigma = self.psf_king(energy_true, offset)
            return (1 - 1 / gamma) / (2 * np.pi * sigma**2) * (1 + rad**2 / (2 * gamma * sigma**2)) ** -gamma
        sigmas, weights = self.psf_gaussians(energy_true, offset)
        return sum(w / (2 * np.pi * s**2) * np.exp(-0.5 * (rad / s) ** 2) for s, w in zip(sigmas, weights))

    def psf_containment(self, rad, energy_true, offset):
        """Fraction of the PSF within ``rad`` (deg) (small-angle approximation)."""
        rad = np.asarray(rad, dtype=float)
        if self.psf_model == "king":
            gamma, sigma = self.psf_king(energy_true, offset)
            return 1 - (1 + rad**2 / (2 * gamma * sigma**2)) ** (1 - gamma)
        sigmas, weights = self.psf_gaussians(energy_true, offset)
        return sum(w * -np.expm1(-0.5 * (rad / s) ** 2) for s, w in zip(sigmas, weights))

    def sample_psf(self, rng, energy_true, offset):
        """One angular distance (deg) per photon, drawn from the PSF."""
        energy_true = np.asarray(energy_true, dtype=float)
        u = rng.random(energy_true.shape)
        if self.psf_model == "king":
            gamma, sigma = self.psf_king(energy_true, offset)
            return np.sqrt(2 * gamma * sigma**2 * ((1 - u) ** (1 / (1 - gamma)) - 1))
        sigmas, weights = self.psf_gaussians(energy_true, offset)
        component = np.searchsorted(np.cumsum(weights)[:-1], rng.random(energy_true.shape), side="right")
        sigma = np.choose(component, [np.broadcast_to(s, energy_true.shape) for s in sigmas])
        return sigma * np.sqrt(-2 * np.log1p(-u))

    # ----------------------------------------------------------- background
    def bkg_energy_shape(self, energy, zenith):
        """Background rate per unit energy on axis (s⁻¹ MeV⁻¹ sr⁻¹): power law with a turn-over."""
        energy = np.asarray(energy, dtype=float)
        turn = self.bkg_threshold_ratio * self.energy_threshold(zenith)
        with np.errstate(divide="ignore", over="ignore"):
            rise = 1.0 / (1.0 + (energy / turn) ** -self.bkg_rise)
        return self.bkg_rate * energy**-self.bkg_index * rise

    def bkg_rate_offset(self, energy, offset, zenith):
        """Radially symmetric background rate (s⁻¹ MeV⁻¹ sr⁻¹), as tabulated in ``bkg_2d``."""
        offset = np.asarray(offset, dtype=float)
        return self.bkg_energy_shape(energy, zenith) * np.exp(-0.5 * (offset / self.bkg_offset_sigma) ** 2)

    def bkg_rate_fov(self, energy, fov_lon, fov_lat, zenith):
        """Background rate (s⁻¹ MeV⁻¹ sr⁻¹) in FoV coordinates, as tabulated in ``bkg_3d``."""
        fov_lon = np.asarray(fov_lon, dtype=float)
        fov_lat = np.asarray(fov_lat, dtype=float)
        offset = np.hypot(fov_lon, fov_lat)
        gradient = np.clip(1.0 + self.bkg_gradient * fov_lat, 0.05, None)
        return self.bkg_rate_offset(energy, offset, zenith) * gradient
