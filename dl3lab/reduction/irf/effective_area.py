"""Effective area table ``aeff_2d`` (spec §1.4, §4.2, §5)."""

from astropy import units as u

from .core import IRF

__all__ = ["EffectiveAreaTable2D"]


class EffectiveAreaTable2D(IRF):
    """Effective area on (true energy, offset), in m².

    Evaluation follows spec §0.1 with linear values and ``fill_value = 0``: HESS
    tables whose offsets are nodes ``0, 0.5, ..., 2.5`` deg are extrapolated up
    to 2.75 deg and 0 beyond.

    Examples
    --------
    >>> aeff = EffectiveAreaTable2D.read("run.fits.gz", hdu="AEFF")  # doctest: +SKIP
    >>> aeff.evaluate(energy_true=[1, 10] * u.TeV, offset=0.5 * u.deg)  # doctest: +SKIP
    """

    tag = "aeff_2d"
    required_axes = ("energy_true", "offset")
    data_column = "EFFAREA"
    default_unit = u.m**2
    extname = "EFFECTIVE AREA"
    hduclas2 = "EFF_AREA"

    def _threshold(self, key):
        value = self.meta.get(key)
        if value is None or isinstance(value, (bool, str)):
            return None
        value = float(value)
        return None if value == 0 else u.Quantity(value, "TeV")

    @property
    def low_threshold(self):
        """Safe low energy threshold from ``LO_THRES`` (assumed TeV), None if missing or 0."""
        return self._threshold("LO_THRES")

    @property
    def high_threshold(self):
        """Safe high energy threshold from ``HI_THRES`` (assumed TeV), None if missing or 0."""
        return self._threshold("HI_THRES")

    @property
    def rad_max(self):
        """Fixed point-like theta cut from the ``RAD_MAX`` keyword (deg), or None."""
        value = self.meta.get("RAD_MAX")
        if value is None or isinstance(value, (bool, str)):
            return None
        return u.Quantity(float(value), "deg")
