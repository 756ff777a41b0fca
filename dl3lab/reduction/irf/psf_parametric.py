"""Parametric PSFs ``psf_3gauss`` and ``psf_king`` (spec §1.4).

The parameters are tabulated on (true energy, offset) and interpolated per spec
§0.1 (linear in ``ln E`` and offset, linearly extrapolated, clipped at 0) but are
**never** set to zero outside the table. The PSF itself is analytic.
"""

import numpy as np
from astropy import units as u
from astropy.io import fits

from ..axes import MapAxis
from ..interpolation import ScaledGridInterpolator
from .core import IRF
from .fitsio import check_unit, find_column, orient_column, parse_unit, unit_to_string
from .psf_table import containment_radius_on_grid

__all__ = ["ParametricPSF", "EnergyDependentMultiGaussPSF", "PSFKing", "DEFAULT_RAD_AXIS"]

#: Rad axis searched by `ParametricPSF.containment_radius` (0-0.66 deg, 66 bins, as Gammapy's default).
DEFAULT_RAD_AXIS = MapAxis.from_bounds(0, 0.66, 66, name="rad", unit="deg")


class ParametricPSF(IRF):
    """Base class of the analytic PSFs.

    ``data`` is a structured float32 array with one field per parameter (shape
    ``axes.shape``) and ``unit`` a dict ``{parameter: Unit}``. Sigmas stored as
    zero are replaced by 1 (as Gammapy does for some files).
    """

    required_axes = ("energy_true", "offset")
    #: parameter name -> FITS column name
    parameters = {}
    default_unit = u.deg**-2
    default_fill_value = None
    hduclas2 = "RPSF"

    # ------------------------------------------------------------ data model
    def _coerce_data(self, data, unit):
        names = list(self.parameters)
        units = dict(unit or {})
        if isinstance(data, np.ndarray) and data.dtype.names:
            data = {name: data[name] for name in data.dtype.names}
        missing = [name for name in names if name not in data]
        if missing:
            raise ValueError(f"{self.tag}: missing parameters {missing}")
        array = np.empty(self._axes.shape, dtype=[(name, np.float32) for name in names])
        for name in names:
            value = data[name]
            if isinstance(value, u.Quantity):
                units.setdefault(name, value.unit)
                value = value.to_value(units[name])
            array[name] = np.broadcast_to(np.asarray(value), self._axes.shape)
            if name.startswith("sigma"):
                array[name][array[name] == 0] = 1.0
            units.setdefault(name, u.deg if name.startswith("sigma") else u.dimensionless_unscaled)
        return array, {name: u.Unit(units[name]) for name in names}

    def _validate_unit(self, unit):
        for name, value in unit.items():
            if name.startswith("sigma") and not value.is_equivalent(u.deg):
                raise ValueError(f"{self.tag}: {name} unit {value} is not an angle")

    @property
    def quantity(self):
        """Parameters as a dict of Quantities."""
        return {name: u.Quantity(self._data[name], self._unit[name]) for name in self.parameters}

    def _param_interpolators(self):
        if self._interp is None:
            nodes = [ax.center.to_value(ax.unit) for ax in self._axes]
            scales = [ax.interp for ax in self._axes]
            self._interp = {
                name: ScaledGridInterpolator(nodes, self._data[name], scales, method=self.method)
                for name in self.parameters
            }
        return self._interp

    def evaluate_parameters(self, energy_true, offset, method=None):
        """Interpolated parameters (sigmas in deg, the others in their units), clipped at 0, never zeroed.

        Returns
        -------
        dict of `~numpy.ndarray`
        """
        points = self._coord_values({"energy_true": energy_true, "offset": offset})
        result = {}
        for name, interp in self._param_interpolators().items():
            values = interp(points, method=method)
            if name.startswith("sigma"):
                values = values * self._unit[name].to(u.deg)
            result[name] = values
        return result

    @staticmethod
    def _rad_deg(rad):
        if isinstance(rad, u.Quantity):
            return rad.to_value(u.deg)
        return np.asarray(rad, dtype=float)

    def evaluate(self, rad, energy_true, offset, method=None):
        """PSF density at ``rad`` from the source, in deg⁻².

        Parameters
        ----------
        rad, energy_true, offset : `~astropy.units.Quantity` or array-like
            Broadcastable coordinates (floats: deg, axis units).
        method : {"linear", "nearest"}, optional
            Parameter interpolation method.
        """
        pars = self.evaluate_parameters(energy_true, offset, method=method)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            values = self.evaluate_direct(self._rad_deg(rad), **pars)
        return u.Quantity(np.asarray(values, dtype=float), u.deg**-2, copy=False)

    def containment(self, rad, energy_true, offset):
        """Analytic fraction of the PSF within ``rad`` (`~numpy.ndarray`)."""
        pars = self.evaluate_parameters(energy_true, offset)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return self.evaluate_containment(self._rad_deg(rad), **pars)

    def containment_radius(self, fraction, energy_true, offset, factor=20, rad_axis=None):
        """Radius containing ``fraction``: grid search on ``rad_axis`` (default 0-0.66 deg) upsampled by ``factor``."""
        rad_axis = DEFAULT_RAD_AXIS if rad_axis is None else rad_axis
        return containment_radius_on_grid(self.containment, rad_axis, fraction, energy_true, offset, factor)

    def cumsum(self, axis_name):
        """Not defined for parametric PSFs."""
        raise NotImplementedError(f"{self.tag} has no tabulated data to integrate")

    def pad(self, pad_width, axis_name, mode="edge"):
        """Not defined for parametric PSFs."""
        raise NotImplementedError(f"{self.tag} cannot be padded")

    # ------------------------------------------------------------------ I/O
    @classmethod
    def _read_data(cls, hdu, axes, fail):
        data, units = {}, {}
        for name, column_name in cls.parameters.items():
            column = find_column(hdu, (column_name,))
            if column is None:
                fail(f"missing parameter column {column_name}")
            data[name] = orient_column(np.asarray(hdu.data[column][0]), axes, column, fail)
            unit, missing = parse_unit(hdu.columns[column].unit)
            if name.startswith("sigma"):
                if missing:
                    fail(f"column {column} has no unit (expected an angle)")
                check_unit(unit, u.deg, column, fail)
            elif isinstance(unit, u.UnrecognizedUnit):
                fail(f"column {column} has an unrecognised unit {unit.to_string()!r}")
            units[name] = unit
        return data, units

    def _data_columns(self):
        dim = "(" + ",".join(str(n) for n in self._data.shape) + ")"
        columns = []
        for name, column_name in self.parameters.items():
            values = np.ascontiguousarray(self._data[name])
            columns.append(
                fits.Column(
                    column_name,
                    format=f"{values.size}E",
                    unit=unit_to_string(self._unit[name]),
                    dim=dim,
                    array=values.T[np.newaxis],
                )
            )
        return columns


class EnergyDependentMultiGaussPSF(ParametricPSF):
    """Triple-Gauss PSF (``psf_3gauss``).

    ``N_i = 2 SCALE A_i σ_i²`` with ``A = (1, AMPL_2, AMPL_3)``, normalised to
    ``Σ N_i = 1``; ``P(r) = Σ N_i / (2π σ_i²) exp(-r² / 2σ_i²)``.
    """

    tag = "psf_3gauss"
    parameters = {
        "sigma_1": "SIGMA_1",
        "sigma_2": "SIGMA_2",
        "sigma_3": "SIGMA_3",
        "scale": "SCALE",
        "ampl_2": "AMPL_2",
        "ampl_3": "AMPL_3",
    }
    extname = "PSF_2D_GAUSS"

    @staticmethod
    def _norms(sigma_1, sigma_2, sigma_3, scale, ampl_2, ampl_3):
        sigmas = (sigma_1, sigma_2, sigma_3)
        norms = [2 * scale * a * s**2 for a, s in zip((1.0, ampl_2, ampl_3), sigmas)]
        total = np.nansum(np.stack(np.broadcast_arrays(*norms)), axis=0)
        # A vanishing total (all parameters clipped to 0 far outside the table) gives 0, not NaN.
        return sigmas, [np.nan_to_num(n / total) for n in norms]

    @classmethod
    def evaluate_direct(cls, rad, **pars):
        """Density (deg⁻²) at ``rad`` (deg) for given parameters (sigmas in deg)."""
        sigmas, norms = cls._norms(**pars)
        r2 = rad**2
        return sum(n / (2 * np.pi * s**2) * np.exp(-r2 / (2 * s**2)) for n, s in zip(norms, sigmas))

    @classmethod
    def evaluate_containment(cls, rad, **pars):
        """Fraction within ``rad`` (deg): ``Σ N_i (1 - exp(-r² / 2σ_i²))``."""
        sigmas, norms = cls._norms(**pars)
        r2 = rad**2
        return sum(n * (1 - np.exp(-r2 / (2 * s**2))) for n, s in zip(norms, sigmas))


class PSFKing(ParametricPSF):
    """King-profile PSF (``psf_king``).

    ``P(r) = 1/(2π σ²) (1 - 1/γ) (1 + r²/(2γσ²))^(-γ)``.
    """

    tag = "psf_king"
    parameters = {"gamma": "GAMMA", "sigma": "SIGMA"}
    extname = "PSF_2D_KING"

    @staticmethod
    def evaluate_direct(rad, gamma, sigma):
        """Density (deg⁻²) at ``rad`` (deg)."""
        return 1 / (2 * np.pi * sigma**2) * (1 - 1 / gamma) * (1 + rad**2 / (2 * gamma * sigma**2)) ** (-gamma)

    @staticmethod
    def evaluate_containment(rad, gamma, sigma):
        """Fraction within ``rad`` (deg): ``1 - (1 + r²/(2γσ²))^(1-γ)``."""
        return 1 - (1 + rad**2 / (2 * gamma * sigma**2)) ** (1 - gamma)
