"""Tabulated PSF ``psf_table`` (spec §1.4, §4.4, §9)."""

import numpy as np
from astropy import units as u

from .core import IRF

__all__ = ["PSF3D", "containment_radius_on_grid"]


def containment_radius_on_grid(containment, rad_axis, fraction, energy_true, offset, factor=20):
    """Containment radius by a grid search, as Gammapy does.

    The rad axis is upsampled by ``factor``; the radius returned is the
    upsampled bin centre whose containment is closest to ``fraction``.

    Parameters
    ----------
    containment : callable
        ``containment(rad, energy_true, offset)`` returning fractions.
    rad_axis : `~dl3lab.reduction.axes.MapAxis`
        Radius axis to search.
    fraction, energy_true, offset : array-like, Quantity
        Broadcastable query.
    factor : int
        Upsampling factor (precision of the result).

    Returns
    -------
    `~astropy.units.Quantity`
        Radii with the broadcast shape of the inputs.
    """
    shape = np.broadcast_shapes(np.shape(energy_true), np.shape(offset), np.shape(fraction))
    rad = rad_axis.upsample(factor).center
    grid = rad.reshape((-1,) + (1,) * len(shape))
    values = containment(grid, energy_true, offset)
    idx = np.argmin(np.abs(values - np.asarray(fraction, dtype=float)), axis=0)
    return u.Quantity(np.broadcast_to(rad.value[idx], shape), rad.unit)


class PSF3D(IRF):
    """PSF density on (true energy, offset, rad), in sr⁻¹.

    Evaluation follows spec §0.1 (linear values, 0 outside the edges).
    """

    tag = "psf_table"
    required_axes = ("energy_true", "offset", "rad")
    data_column = "RPSF"
    default_unit = u.sr**-1
    extname = "PSF_2D_TABLE"
    hduclas2 = "RPSF"

    def containment(self, rad, energy_true, offset):
        """Fraction of the PSF within ``rad`` (spec §9).

        The cumulative sum ``Σ 2π r_c Δr P`` is placed on nodes at the rad
        upper edges and evaluated per spec §0.1 (so it is 0 outside the node
        edges, e.g. for ``rad`` beyond the last edge plus half a bin).

        Returns
        -------
        `~numpy.ndarray`
            Dimensionless fractions with the broadcast shape of the inputs.
        """
        return self.integral("rad", rad=rad, energy_true=energy_true, offset=offset).to_value("")

    def containment_radius(self, fraction, energy_true, offset, factor=20):
        """Radius containing ``fraction`` of the PSF (grid search on the rad axis upsampled by ``factor``).

        Returns
        -------
        `~astropy.units.Quantity`
            Radii with the broadcast shape of the inputs.
        """
        return containment_radius_on_grid(
            self.containment, self.axes["rad"], fraction, energy_true, offset, factor=factor
        )
