"""`SafeMaskMaker`: the safe energy range and field-of-view mask of a dataset (spec §5)."""

import warnings

import numpy as np
import traitlets
from astropy import units as u
from astropy.coordinates import SkyCoord
from scipy.optimize import brentq

from ..maps import Map
from .core import Maker
from .map_products import make_edisp_kernel_data, pointing_offsets
from .traits import AngleTrait, OptionalInstance, SubsetList

__all__ = ["SafeMaskMaker", "template_inverse", "SAFE_MASK_METHODS"]

SAFE_MASK_METHODS = ("aeff-default", "aeff-max", "edisp-bias", "offset-max", "bkg-peak")
_TINY64 = np.finfo(np.float64).tiny


def _loglog_interpolator(energy, values):
    """Log-log linear interpolation with extrapolation, zeroing and clipping as Gammapy's template model."""
    x = np.log(np.asarray(energy, dtype=float))
    with np.errstate(invalid="ignore"):
        y = np.log(np.maximum(np.asarray(values, dtype=float), _TINY64))

    def evaluate(e):
        xq = np.log(np.atleast_1d(np.asarray(e, dtype=float)))
        idx = np.clip(np.searchsorted(x, xq, side="right") - 1, 0, len(x) - 2)
        w = (xq - x[idx]) / (x[idx + 1] - x[idx])
        result = np.exp(y[idx] * (1 - w) + y[idx + 1] * w)
        result[np.abs(result) - _TINY64 <= _TINY64] = 0.0
        return np.clip(result, 0, None)

    return evaluate


def template_inverse(energy, values, target, energy_min, energy_max, nbin=100):
    """First energy in ``[energy_min, energy_max]`` where the log-log interpolated ``values`` reach ``target``.

    The interval is sampled at ``nbin + 1`` log-spaced points and Brent's method is
    run on the first sign change. Returns NaN when there is none.
    """
    model = _loglog_interpolator(energy, values)

    def f(e):
        return 1e12 * (model(e)[0] - target)

    x = np.exp(np.linspace(np.log(energy_min), np.log(energy_max), nbin + 1))
    signs = np.sign(1e12 * (model(x) - target))  # f at every sample, vectorised
    changes = np.nonzero(signs[:-1] != signs[1:])[0]
    for idx in changes:
        try:
            return brentq(f, x[idx], x[idx + 1])
        except (RuntimeError, ValueError):
            return np.nan
    return np.nan


def _is_skycoord(value):
    return isinstance(value, SkyCoord) and value.isscalar


class SafeMaskMaker(Maker):
    """Make the safe data range mask of a dataset.

    Parameters
    ----------
    methods : list of str
        Among ``aeff-default``, ``aeff-max``, ``edisp-bias``, ``offset-max`` and ``bkg-peak``.
    aeff_percent : float
        Effective-area threshold in percent of the maximum (``aeff-max``), 0 to 100.
    bias_percent : float
        Energy-bias threshold in percent (``edisp-bias``), 0 or more.
    position : `~astropy.coordinates.SkyCoord`, optional
        Where ``aeff-max`` and ``edisp-bias`` look (default: the geometry centre).
    fixed_offset : angle, optional
        Look at this offset from the pointing instead (exclusive with ``position``).
    offset_max : angle
        Maximum offset from the pointing (``offset-max``); positive.
    irfs : {"DL4", "DL3"}
        Compute the thresholds from the dataset maps or from the observation's IRFs.
    """

    tag = "SafeMaskMaker"
    available_methods = SAFE_MASK_METHODS

    methods = SubsetList(SAFE_MASK_METHODS, default_value=["aeff-default"])
    aeff_percent = traitlets.Float(10.0, min=0.0, max=100.0)
    bias_percent = traitlets.Float(10.0, min=0.0)
    position = OptionalInstance(_is_skycoord, "a scalar SkyCoord")
    fixed_offset = AngleTrait(None, allow_none=True)
    offset_max = AngleTrait(3.0, positive=True)
    irfs = traitlets.Enum(["DL4", "DL3"], default_value="DL4")

    def __init__(self, methods=None, **kwargs):
        if methods is not None:
            kwargs["methods"] = methods
        super().__init__(**kwargs)

    @traitlets.validate("position")
    def _check_position(self, proposal):
        if proposal["value"] is not None and self.fixed_offset is not None:
            raise traitlets.TraitError("SafeMaskMaker: give either position or fixed_offset, not both")
        return proposal["value"]

    @traitlets.validate("fixed_offset")
    def _check_fixed_offset(self, proposal):
        if proposal["value"] is not None and self.position is not None:
            raise traitlets.TraitError("SafeMaskMaker: give either position or fixed_offset, not both")
        return proposal["value"]

    # --------------------------------------------------------------- helpers
    def _get_position(self, observation, geom):
        if self.fixed_offset is not None and observation is not None:
            pointing = observation.get_pointing_icrs(observation.tmid)
            return pointing.directional_offset_by(0 * u.deg, self.fixed_offset)
        if self.position is not None:
            return self.position
        return geom.center_skydir

    def _get_offset(self, observation):
        if self.fixed_offset is not None:
            return self.fixed_offset
        if self.position is not None:
            return observation.get_pointing_icrs(observation.tmid).separation(self.position).to("deg")
        return 0.0 * u.deg

    def _require(self, observation, method):
        if observation is None:
            raise ValueError(f"SafeMaskMaker method {method!r} with irfs={self.irfs!r} needs the observation")

    # ------------------------------------------------------------ the rules
    def make_mask_offset_max(self, dataset, observation):
        """Pixels closer than ``offset_max`` to the pointing (broadcast over energy)."""
        self._require(observation, "offset-max")
        geom = dataset._geom
        pointing = observation.get_pointing_icrs(observation.tmid)
        if hasattr(geom, "wcs") and not getattr(geom, "is_region", False):
            separation = pointing_offsets(geom.to_image(), pointing)
        else:
            separation = np.atleast_2d(geom.separation(pointing).to_value("deg"))
        mask = separation < self.offset_max.to_value("deg")
        return np.broadcast_to(mask, geom.data_shape)

    def make_mask_energy_aeff_default(self, dataset, observation):
        """Energy range from the ``LO_THRES``/``HI_THRES`` keywords of the effective area (TeV)."""
        self._require(observation, "aeff-default")
        aeff = observation.aeff
        e_min, e_max = aeff.low_threshold, aeff.high_threshold
        if e_min is None:
            warnings.warn(f"obs {observation.obs_id}: no LO_THRES in the effective area; no lower limit", stacklevel=3)
        if e_max is None:
            warnings.warn(f"obs {observation.obs_id}: no HI_THRES in the effective area; no upper limit", stacklevel=3)
        return dataset._geom.energy_mask(energy_min=e_min, energy_max=e_max)

    def aeff_max_threshold(self, dataset, observation=None):
        """Lower energy threshold of the ``aeff-max`` rule, or None when the area is zero everywhere."""
        if self.irfs == "DL3":
            self._require(observation, "aeff-max")
            aeff = observation.aeff
            edges = aeff.axes["energy_true"].edges
            values = aeff.evaluate(offset=self._get_offset(observation), energy_true=edges).value
            return edges[values > self.aeff_percent * np.max(values) / 100].min()
        energy, area = self.aeff_spectrum(dataset, observation)
        if not np.any(area > 0):
            return None
        e0 = energy[np.nonzero(area > 0)[0][0]]
        threshold = self.aeff_percent / 100 * area.max()
        root = template_inverse(energy, area, threshold, e0, energy[-1])
        return u.Quantity(e0 if np.isnan(root) else root, "TeV")

    def aeff_spectrum(self, dataset, observation=None):
        """True-energy centres (TeV) and effective area (m2) at the rule's position."""
        exposure = dataset.exposure
        geom = exposure.geom
        position = self._get_position(observation, dataset._geom)
        spectrum = _spectrum_at(exposure, position)
        livetime = exposure.meta["livetime"].to_value("s")
        return geom.axes["energy_true"].center.to_value("TeV"), spectrum / livetime

    def make_mask_energy_aeff_max(self, dataset, observation=None):
        """Bins above the energy where the effective area reaches ``aeff_percent`` % of its maximum."""
        e_min = self.aeff_max_threshold(dataset, observation)
        if e_min is None:
            warnings.warn(
                f"Effective area is all zero for dataset {dataset.name!r}: setting mask_safe to all False",
                stacklevel=3,
            )
            return np.zeros(dataset._geom.data_shape, bool)
        return dataset._geom.energy_mask(energy_min=e_min)

    def energy_bias(self, dataset, observation=None):
        """True-energy centres (TeV) and the relative energy bias ``(<E> - E') / E'`` of the kernel."""
        if self.irfs == "DL3":
            self._require(observation, "edisp-bias")
            edisp = observation.edisp
            axis = edisp.axes["energy_true"]
            offset = np.atleast_1d(self._get_offset(observation).to_value("deg"))
            kernel = make_edisp_kernel_data(edisp, axis, axis.copy(name="energy"), offset)[..., 0]
            e_true = axis.center.to_value("TeV")
            e_reco = e_true
        else:
            position = self._get_position(observation, dataset._geom)
            kernel, e_true, e_reco = _kernel_at(dataset, position)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (kernel * e_reco[None, :]).sum(axis=1) / kernel.sum(axis=1)
            return e_true, (mean - e_true) / e_true

    def edisp_bias_threshold(self, dataset, observation=None):
        """Lower reco-energy threshold of the ``edisp-bias`` rule."""
        e_true, values = self.energy_bias(dataset, observation)
        bias = self.bias_percent / 100
        e_lo = e_true[np.nanargmax(values)]
        root = template_inverse(e_true, values, bias, e_lo, e_true[-1])
        if np.isnan(root):
            root = e_lo
        return u.Quantity(root * (1 + bias), "TeV")

    def make_mask_energy_edisp_bias(self, dataset, observation=None):
        """Bins above the reco energy where the energy bias falls to ``bias_percent`` %."""
        return dataset._geom.energy_mask(energy_min=self.edisp_bias_threshold(dataset, observation))

    def background_spectrum(self, dataset, observation=None):
        """Energy edges (TeV) and the background spectrum the ``bkg-peak`` rule uses."""
        if self.irfs == "DL3":
            self._require(observation, "bkg-peak")
            spectrum, edges = _bkg_irf_spectrum(observation.bkg)
        else:
            spectrum = dataset.npred_background().data.reshape(dataset._geom.data_shape[0], -1).sum(axis=1)
            edges = dataset._geom.axes["energy"].edges.to_value("TeV")
        return edges, spectrum

    def bkg_peak_threshold(self, dataset, observation=None):
        """Lower edge of the energy bin where the background spectrum peaks."""
        edges, spectrum = self.background_spectrum(dataset, observation)
        return u.Quantity(edges[int(np.argmax(spectrum))], "TeV")

    def diagnostics(self, dataset, observation=None):
        """Curves and thresholds behind the energy rules, for plots.

        Returns
        -------
        dict
            ``aeff``: true-energy centres, effective area and the ``aeff-max`` threshold;
            ``bias``: true-energy centres, energy bias and the ``edisp-bias`` threshold;
            ``background``: energy edges, spectrum and the ``bkg-peak`` threshold. A part
            is None when the dataset lacks what it needs.
        """
        result = {"aeff": None, "bias": None, "background": None}
        if dataset.exposure is not None:
            energy, area = self.aeff_spectrum(dataset, observation)
            threshold = self.aeff_max_threshold(dataset, observation)
            result["aeff"] = {"energy": energy, "value": area, "threshold": threshold,
                              "level": self.aeff_percent / 100 * np.max(area) if np.any(area > 0) else 0.0}
        if dataset.edisp is not None:
            energy, bias = self.energy_bias(dataset, observation)
            threshold = self.edisp_bias_threshold(dataset, observation)
            result["bias"] = {"energy": energy, "value": bias, "threshold": threshold, "level": self.bias_percent / 100}
        if getattr(dataset, "background", None) is not None:
            edges, spectrum = self.background_spectrum(dataset, observation)
            result["background"] = {"edges": edges, "value": spectrum,
                                    "threshold": u.Quantity(edges[int(np.argmax(spectrum))], "TeV")}
        return result

    def make_mask_energy_bkg_peak(self, dataset, observation=None):
        """Bins above the peak of the background spectrum."""
        return dataset._geom.energy_mask(energy_min=self.bkg_peak_threshold(dataset, observation))

    @staticmethod
    def make_mask_bkg_invalid(dataset):
        """Finite background, and positive unless the statistic is WStat."""
        bkg = dataset.background.data
        if dataset.stat_type == "wstat":
            return np.isfinite(bkg)
        with np.errstate(invalid="ignore"):
            mask = bkg > 0.0  # False for NaN and -inf
            if not np.isfinite(np.sum(bkg)):
                mask &= bkg != np.inf
        return mask

    # ------------------------------------------------------------------ run
    def make_mask(self, dataset, observation=None):
        """The mask of the selected methods and the background check, ignoring any existing mask."""
        if self.irfs == "DL3" and observation is None:
            raise ValueError("SafeMaskMaker with irfs='DL3' needs the observation")
        mask = np.ones(dataset._geom.data_shape, dtype=bool)
        if getattr(dataset, "background", None) is not None:
            mask &= self.make_mask_bkg_invalid(dataset)
        rules = {
            "offset-max": self.make_mask_offset_max,
            "aeff-default": self.make_mask_energy_aeff_default,
            "aeff-max": self.make_mask_energy_aeff_max,
            "edisp-bias": self.make_mask_energy_edisp_bias,
            "bkg-peak": self.make_mask_energy_bkg_peak,
        }
        for method in ("offset-max", "aeff-default", "aeff-max", "edisp-bias", "bkg-peak"):
            if method in self.methods:
                mask &= rules[method](dataset, observation)
        return mask

    def run(self, dataset, observation=None, from_scratch=False):
        """Set ``dataset.mask_safe`` and return the dataset.

        By default the new mask is ANDed with the existing one, in place, as Gammapy
        does. With ``from_scratch=True`` the existing mask is ignored, so a looser
        threshold takes effect on an already masked dataset.
        """
        mask = self.make_mask(dataset, observation)
        if dataset.mask_safe is not None and not from_scratch:
            dataset.mask_safe.data &= mask
        else:
            dataset.mask_safe = Map.from_geom(dataset._geom, data=mask, dtype=bool)
        return dataset


def _spectrum_at(exposure, position):
    """Exposure spectrum at the pixel containing ``position`` (region maps: their single pixel)."""
    data = exposure.data
    if getattr(exposure.geom, "is_region", False) or data.shape[-2:] == (1, 1):
        return data[..., 0, 0].astype(float)
    from ..datasets.irf_maps import _nearest_pixel

    iy, ix = _nearest_pixel(exposure.geom, position)
    return data[:, iy, ix].astype(float)


def _kernel_at(dataset, position):
    """Kernel ``(n_true, n_reco)``, true-energy centres and reco centres (TeV) at ``position``."""
    edisp = dataset.edisp
    geom = edisp.edisp_map.geom
    e_true = geom.axes["energy_true"].center.to_value("TeV")
    energy_axis = dataset._geom.axes["energy"]
    if getattr(geom, "is_region", False):
        data = edisp.edisp_map.data[..., 0, 0]
        iy = ix = None
    else:
        iy, ix = _nearest_valid_pixel(edisp, position)
        data = edisp.edisp_map.data[..., iy, ix]
    if "migra" in geom.axes.names:
        from .map_products import _migration_to_kernel

        data = _migration_to_kernel(data, geom.axes["migra"], geom.axes["energy_true"], energy_axis)
    return data, e_true, energy_axis.center.to_value("TeV")


def _nearest_valid_pixel(irf_map, position):
    """Pixel nearest to ``position``, moved to the nearest pixel with exposure when that one has none."""
    from ..datasets.irf_maps import _nearest_pixel, _pixel_of

    geom = irf_map.edisp_map.geom
    iy, ix = _nearest_pixel(geom, position)
    if irf_map.exposure_map is None:
        return iy, ix
    valid = irf_map.exposure_map.data.reshape((-1,) + irf_map.exposure_map.data.shape[-2:]).sum(axis=0) > 0
    if valid[iy, ix] or not valid.any():
        return iy, ix
    x, y = _pixel_of(geom, position)
    vy, vx = np.nonzero(valid)
    best = np.argmin((vx - x) ** 2 + (vy - y) ** 2)
    warnings.warn(f"Position {position} is outside the valid IRF map; using the nearest valid pixel", stacklevel=4)
    return int(vy[best]), int(vx[best])


def _bkg_irf_spectrum(bkg):
    """Background rate integrated over offset, per IRF energy bin, and the energy edges (TeV)."""
    if "fov_lon" in bkg.axes.names:
        lon_axis, lat_axis = bkg.axes["fov_lon"], bkg.axes["fov_lat"]
        i_lon = int(lon_axis.coord_to_idx(0 * u.deg))
        i_lat = int(lat_axis.coord_to_idx(0 * u.deg))
        data = np.asarray(bkg.data)[:, i_lon:, i_lat]
        offset_edges = lon_axis.edges[i_lon:].to_value("deg")
    else:
        data = np.asarray(bkg.data)
        offset_edges = bkg.axes["offset"].edges.to_value("deg")
    centres = 0.5 * (offset_edges[1:] + offset_edges[:-1])
    widths = np.diff(offset_edges)
    spectrum = (data * (2 * np.pi * centres * widths)[None, :]).sum(axis=1)
    return spectrum, bkg.axes["energy"].edges.to_value("TeV")
