"""Point-like theta cut table ``rad_max_2d`` (spec §1.4)."""

import numbers

import numpy as np
from astropy import units as u

from ..errors import DataFormatError
from .core import IRF

__all__ = ["RadMax2D"]


class RadMax2D(IRF):
    """Maximum angular distance (deg) of a point-like cut on (reco energy, offset).

    Read from a ``RAD_MAX`` HDU, it evaluates per spec §0.1 (linear, 0 outside the
    edges). :meth:`from_irf` builds the constant table of a fixed ``RAD_MAX`` keyword.
    """

    tag = "rad_max_2d"
    required_axes = ("energy", "offset")
    data_column = "RAD_MAX"
    default_unit = u.deg
    extname = "RAD_MAX"
    hduclas2 = "RAD_MAX"
    default_pointlike = True

    @classmethod
    def from_irf(cls, irf):
        """Constant table from the ``RAD_MAX`` keyword of a point-like aeff or edisp.

        The energy axis is the IRF's true-energy axis squashed to one bin and
        renamed ``energy``; the offset axis is squashed too. Evaluation uses
        ``method="nearest"`` and ``fill_value=None``, i.e. the constant everywhere.

        Raises
        ------
        DataFormatError
            If the IRF is not point-like or has no numeric ``RAD_MAX`` keyword.
        """
        where = irf.location.kwargs()
        if not irf.is_pointlike:
            raise DataFormatError(f"{irf.tag}: a fixed RAD_MAX needs a point-like IRF", **where)
        value = irf.meta.get("RAD_MAX")
        if value is None:
            raise DataFormatError(f"{irf.tag}: point-like IRF without RAD_MAX keyword", **where)
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
            raise DataFormatError(f"{irf.tag}: RAD_MAX must be a finite number, got {value!r}", **where)
        energy = irf.axes["energy_true"].rename("energy").squash()
        offset = irf.axes["offset"].squash()
        rad_max = cls(
            axes=[energy, offset],
            data=np.full((1, 1), float(value)),
            unit="deg",
            fill_value=None,
            method="nearest",
        )
        rad_max.location = irf.location
        return rad_max

    @property
    def is_fixed_rad_max(self):
        """Whether the table has a single bin (a constant cut)."""
        return self.data.size == 1
