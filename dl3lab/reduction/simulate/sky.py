"""Sky models of the simulator: power-law spectra, point and Gaussian sources, sky geometry helpers."""

from dataclasses import dataclass

import numpy as np

__all__ = ["PowerLaw", "SkySource", "crab_like_source", "offset_by", "fov_to_sky", "angular_separation"]


@dataclass(frozen=True)
class PowerLaw:
    """Power-law photon spectrum ``dN/dE = amplitude (E / reference)^-index``.

    Parameters
    ----------
    amplitude : float
        Differential flux at ``reference``, in cm⁻² s⁻¹ TeV⁻¹.
    index : float
        Spectral index (positive for a falling spectrum).
    reference : float
        Reference energy in TeV.
    """

    amplitude: float = 3.5e-11
    index: float = 2.6
    reference: float = 1.0

    def __post_init__(self):
        if not (self.amplitude >= 0 and np.isfinite(self.amplitude)):
            raise ValueError(f"PowerLaw amplitude must be finite and >= 0, got {self.amplitude}")
        if not (self.reference > 0 and np.isfinite(self.index)):
            raise ValueError("PowerLaw needs a positive reference energy and a finite index")

    def __call__(self, energy):
        """Differential flux (cm⁻² s⁻¹ TeV⁻¹) at ``energy`` (TeV)."""
        return self.amplitude * (np.asarray(energy, dtype=float) / self.reference) ** -self.index

    def integral(self, energy_min, energy_max):
        """Photon flux (cm⁻² s⁻¹) between ``energy_min`` and ``energy_max`` (TeV), element-wise."""
        e1 = np.asarray(energy_min, dtype=float) / self.reference
        e2 = np.asarray(energy_max, dtype=float) / self.reference
        g = 1.0 - self.index
        if abs(g) < 1e-12:
            return self.amplitude * self.reference * np.log(e2 / e1)
        return self.amplitude * self.reference * (e2**g - e1**g) / g

    def sample_in_bins(self, rng, energy_min, energy_max):
        """One energy (TeV) per bin ``[energy_min, energy_max)``, drawn from the power law within the bin."""
        e1 = np.asarray(energy_min, dtype=float)
        e2 = np.asarray(energy_max, dtype=float)
        u = rng.random(e1.shape)
        g = 1.0 - self.index
        if abs(g) < 1e-12:
            return e1 * (e2 / e1) ** u
        return (e1**g + u * (e2**g - e1**g)) ** (1.0 / g)


@dataclass(frozen=True)
class SkySource:
    """A gamma-ray source: position, spectrum and (optional) Gaussian extension.

    Parameters
    ----------
    ra, dec : float
        ICRS position in deg.
    spectrum : `PowerLaw`
        Photon spectrum.
    sigma : float
        Gaussian extension (deg); 0 gives a point source.
    name : str
        Name, written as ``OBJECT`` when it is the observed target.
    """

    ra: float
    dec: float
    spectrum: PowerLaw = PowerLaw()
    sigma: float = 0.0
    name: str = "source"

    def __post_init__(self):
        if not (-90 <= self.dec <= 90):
            raise ValueError(f"SkySource dec must be within [-90, 90] deg, got {self.dec}")
        if not (self.sigma >= 0 and np.isfinite(self.sigma)):
            raise ValueError(f"SkySource sigma must be finite and >= 0, got {self.sigma}")

    @property
    def is_point(self):
        """Whether the source is point-like (``sigma == 0``)."""
        return self.sigma == 0

    def sample_positions(self, rng, n):
        """``n`` true positions (ra, dec in deg) drawn from the source morphology."""
        if self.is_point:
            return np.full(n, float(self.ra)), np.full(n, float(self.dec))
        radius = self.sigma * np.sqrt(-2.0 * np.log1p(-rng.random(n)))
        angle = rng.random(n) * 360.0
        return offset_by(self.ra, self.dec, radius, angle)


def crab_like_source():
    """Point source at the Crab position with a Crab-like power law (3.5e-11 cm⁻² s⁻¹ TeV⁻¹ at 1 TeV, index 2.6)."""
    return SkySource(ra=83.633, dec=22.0145, spectrum=PowerLaw(3.5e-11, 2.6, 1.0), name="Crab-like")


def offset_by(ra, dec, separation, position_angle):
    """Positions at angular ``separation`` (deg) and ``position_angle`` (deg, east of north) from (ra, dec).

    Returns
    -------
    tuple of `~numpy.ndarray`
        ``(ra, dec)`` in deg, ra wrapped to [0, 360).
    """
    ra0, dec0 = np.radians(ra), np.radians(dec)
    r, pa = np.radians(separation), np.radians(position_angle)
    sin_dec = np.sin(dec0) * np.cos(r) + np.cos(dec0) * np.sin(r) * np.cos(pa)
    dec1 = np.arcsin(np.clip(sin_dec, -1, 1))
    dra = np.arctan2(np.sin(pa) * np.sin(r) * np.cos(dec0), np.cos(r) - np.sin(dec0) * sin_dec)
    return np.degrees(ra0 + dra) % 360.0, np.degrees(dec1)


def fov_to_sky(fov_lon, fov_lat, ra0, dec0, alignment="RADEC"):
    """ICRS positions (deg) of field-of-view coordinates around a pointing (inverse of the reduction's mapping).

    For ``RADEC`` the FoV longitude is the offset-frame longitude reflected
    (``fov_lon = -xi``, ``fov_lat = eta``; reduction spec §4.3).
    """
    if alignment != "RADEC":
        raise ValueError(f"only FOVALIGN='RADEC' is simulated, got {alignment!r}")
    xi, eta = np.radians(-np.asarray(fov_lon, dtype=float)), np.radians(fov_lat)
    lat0 = np.radians(dec0)
    x2 = np.cos(eta) * np.cos(xi)
    y = np.cos(eta) * np.sin(xi)
    z2 = np.sin(eta)
    x = x2 * np.cos(lat0) - z2 * np.sin(lat0)
    z = x2 * np.sin(lat0) + z2 * np.cos(lat0)
    ra = np.degrees(np.radians(ra0) + np.arctan2(y, x)) % 360.0
    return ra, np.degrees(np.arcsin(np.clip(z, -1, 1)))


def angular_separation(ra1, dec1, ra2, dec2):
    """Angular separation in deg (Vincenty formula, element-wise)."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(v, dtype=float)) for v in (ra1, dec1, ra2, dec2))
    dlon = lon2 - lon1
    num1 = np.cos(lat2) * np.sin(dlon)
    num2 = np.cos(lat1) * np.sin(lat2) - np.sin(lat1) * np.cos(lat2) * np.cos(dlon)
    den = np.sin(lat1) * np.sin(lat2) + np.cos(lat1) * np.cos(lat2) * np.cos(dlon)
    return np.degrees(np.arctan2(np.hypot(num1, num2), den))
