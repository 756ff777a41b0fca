"""Energy dispersion table ``edisp_2d`` (spec §1.4, §4.5)."""

from astropy import units as u

from .core import IRF

__all__ = ["EnergyDispersion2D"]


class EnergyDispersion2D(IRF):
    """Migration probability density on (true energy, migra = E/E', offset), dimensionless.

    Out-of-bounds rule (spec §0.1, the exception): a point is set to
    ``fill_value`` only when its true energy **and** its migration are both
    outside the table, or its offset is; true energies outside the table are
    therefore linearly extrapolated while migra is inside it.
    """

    tag = "edisp_2d"
    required_axes = ("energy_true", "migra", "offset")
    data_column = "MATRIX"
    default_unit = u.dimensionless_unscaled
    extname = "ENERGY DISPERSION"
    hduclas2 = "EDISP"

    def _mask_out_bounds(self, invalid):
        energy, migra, offset = invalid
        return (energy & migra) | offset

    @property
    def rad_max(self):
        """Fixed point-like theta cut from the ``RAD_MAX`` keyword (deg), or None."""
        value = self.meta.get("RAD_MAX")
        if value is None or isinstance(value, (bool, str)):
            return None
        return u.Quantity(float(value), "deg")
