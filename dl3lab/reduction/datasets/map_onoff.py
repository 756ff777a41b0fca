"""`MapDatasetOnOff`: a dataset whose background is measured in OFF regions (spec §7, §10.1, §11).

The background is not a template but ``alpha * counts_off`` with
``alpha = acceptance / acceptance_off``; the fit statistic is WStat.
"""

import numpy as np

from ..geom.grid import overlap_slices
from ..maps import Map
from .map_dataset import MapDataset, make_name
from .stat import wstat, wstat_profile_background

__all__ = ["MapDatasetOnOff"]

_ONOFF_MAPS = ("counts_off", "acceptance", "acceptance_off")


def _as_map(value, geom):
    """A scalar becomes a constant map on ``geom``; maps and None are returned as they are."""
    if value is None or isinstance(value, Map):
        return value
    if np.isscalar(value) or np.ndim(value) == 0:
        return Map.from_geom(geom, data=float(value))
    return Map.from_geom(geom, data=np.asarray(value, dtype=float))


def _finite32(data):
    """``data`` as float32 with non-finite values set to zero."""
    data = np.asarray(data).astype(np.float32)
    if not np.isfinite(data).all():
        data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
    return data


def _wstat_sums(n_on, n_off, n_bkg):
    """Summed WStat counts statistic: ``(excess, sqrt_ts, alpha)`` of the totals.

    The summed ``alpha`` is ``sum(alpha n_off) / sum(n_off)`` (NaN without OFF counts).
    """
    n_on, n_off, n_bkg = np.float64(n_on), np.float64(n_off), np.float64(n_bkg)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = n_bkg / n_off
        excess = n_on - alpha * n_off
        null = wstat(n_on, n_off, alpha, 0.0)
        best = wstat(n_on, n_off, alpha, excess)
        ts = np.clip(null - best, 0, None)
        sqrt_ts = float(np.sign(excess) * np.sqrt(ts))
    return float(excess), sqrt_ts, float(alpha)


class MapDatasetOnOff(MapDataset):
    """Binned ON counts, OFF counts and acceptances, with IRF maps, on one geometry.

    Parameters
    ----------
    models : list, optional
        Models of the dataset.
    counts, counts_off : `~dl3lab.reduction.maps.Map`, optional
        ON and OFF counts (reco energy).
    acceptance, acceptance_off : `~dl3lab.reduction.maps.Map`, optional
        Relative background efficiency of the ON and OFF measurements.
    exposure : `~dl3lab.reduction.maps.Map`, optional
        Exposure (true energy, m2 s).
    mask_fit, mask_safe : `~dl3lab.reduction.maps.Map`, optional
        Boolean masks on the counts geometry.
    psf, edisp : IRF maps, optional
        PSF and energy dispersion.
    name : str, optional
        Dataset name (random if not given).
    gti : `~dl3lab.reduction.data.GTI`, optional
        Good time intervals.
    meta_table : `~astropy.table.Table`, optional
        One row per observation.
    meta : dict, optional
        Free-form metadata.
    stat_type : str
        Fit statistic (``"wstat"``).
    """

    tag = "MapDatasetOnOff"

    def __init__(
        self,
        models=None,
        counts=None,
        counts_off=None,
        acceptance=None,
        acceptance_off=None,
        exposure=None,
        mask_fit=None,
        psf=None,
        edisp=None,
        name=None,
        mask_safe=None,
        gti=None,
        meta_table=None,
        meta=None,
        stat_type="wstat",
    ):
        self._name = make_name(name)
        self.counts = counts
        self.counts_off = counts_off
        self.exposure = exposure
        self.acceptance = acceptance
        self.acceptance_off = acceptance_off
        self.gti = gti
        self.mask_fit = mask_fit
        self.psf = psf
        self.edisp = edisp
        self.mask_safe = mask_safe
        self.meta_table = meta_table
        self.meta = dict(meta or {})
        self.stat_type = stat_type
        self.models = models

    # --------------------------------------------------------------- basics
    @property
    def _geom(self):
        for item in (self.counts, self.counts_off, self.acceptance, self.acceptance_off, self.mask_safe):
            if item is not None:
                return item.geom
        raise ValueError("Either 'counts', 'counts_off', 'acceptance' or 'acceptance_off' must be defined")

    @property
    def alpha(self):
        """``acceptance / acceptance_off`` as a map (NaN set to 0, infinities to the largest float, as Gammapy)."""
        geom = self._geom
        if self.acceptance is None or self.acceptance_off is None:
            return Map.from_geom(geom, unit="")
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            data = (self.acceptance.quantity / self.acceptance_off.quantity).to_value("")
        return Map.from_geom(geom, data=np.nan_to_num(data), unit="")

    @property
    def background(self):
        """Background counts ``alpha * counts_off`` (None without OFF counts)."""
        if self.counts_off is None:
            return None
        with np.errstate(invalid="ignore", over="ignore"):
            data = self.alpha.data * self.counts_off.data
        return Map.from_geom(self._geom, data=data, unit="")

    @property
    def excess(self):
        """``counts - alpha * counts_off``."""
        background = self.background
        bkg = 0.0 if background is None else background.data
        return Map.from_geom(self._geom, data=self.counts.data - bkg, unit="")

    def _off_data(self):
        if self.counts_off is None:
            return np.zeros(self._geom.data_shape)
        return self.counts_off.data

    def npred_background(self):
        """Background prediction of the WStat profile likelihood, ``alpha * mu_bkg``."""
        if self.counts_off is None:
            return Map.from_geom(self._geom, unit="")
        alpha = self.alpha.data
        with np.errstate(invalid="ignore", over="ignore"):
            mu_bkg = wstat_profile_background(
                self.counts.data, self.counts_off.data, alpha, self.npred_signal().data
            )
            data = np.nan_to_num(alpha * mu_bkg)
        return Map.from_geom(self._geom, data=data, unit="")

    def npred_off(self):
        """Predicted OFF counts, ``npred_background / alpha``."""
        with np.errstate(invalid="ignore", divide="ignore"):
            data = self.npred_background().data / self.alpha.data
        return Map.from_geom(self._geom, data=data, unit="")

    def stat_array(self):
        """WStat per bin (non-finite values set to 0)."""
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            stat = wstat(self.counts.data, self._off_data(), self.alpha.data, self.npred_signal().data)
        return np.nan_to_num(stat)

    def stat_sum(self):
        """Total WStat over the masked bins (0 for a dataset without OFF counts and no safe bin)."""
        if self.counts_off is None and (self.mask_safe is None or not self.mask_safe.data.any()):
            return 0.0
        return super().stat_sum()

    # ------------------------------------------------------------ summary
    def info_dict(self, in_safe_data_range=True):
        """Summary figures (spec §11), with the OFF counts, acceptances and summed alpha."""
        info = super().info_dict(in_safe_data_range=in_safe_data_range)
        if in_safe_data_range and self.mask_safe is not None:
            mask = self.mask_safe.data.astype(bool)
        else:
            mask = np.ones(self._geom.data_shape, bool)
        n_on = float(np.sum(self.counts.data[mask], dtype=float))
        n_off = float(np.sum(self._off_data()[mask], dtype=float))
        with np.errstate(invalid="ignore", over="ignore"):
            n_bkg = float(np.sum((self.alpha.data * self._off_data())[mask], dtype=float))
        excess, sqrt_ts, alpha = _wstat_sums(n_on, n_off, n_bkg)
        if self.counts_off is not None:
            info["excess"] = excess
            info["sqrt_ts"] = sqrt_ts
        info["counts_off"] = int(n_off)
        acceptance = 1.0
        if self.acceptance is not None:
            acceptance = float(np.sum(self.acceptance.data[mask], dtype=float))
        info["acceptance"] = acceptance
        info["acceptance_off"] = acceptance / alpha if self.acceptance_off is not None else np.nan
        info["alpha"] = alpha if self.acceptance_off is not None else np.nan
        info["stat_sum"] = self.stat_sum()
        return info

    def _summary_extra(self):
        mask = self.mask_safe.data.astype(bool) if self.mask_safe is not None else Ellipsis
        values = []
        for item in _ONOFF_MAPS:
            value = getattr(self, item)
            values.append(np.nan if value is None else np.sum(value.data[mask]))
        labels = ("Total counts_off", "Acceptance", "Acceptance off")
        return [f"  {label:<32s}: {value:.0f} " for label, value in zip(labels, values)]

    # ------------------------------------------------------------- create
    @classmethod
    def create(cls, geom, energy_axis_true=None, name=None, **kwargs):
        """Empty ON/OFF dataset: `MapDataset.create` maps plus zero OFF counts and acceptances.

        Parameters
        ----------
        geom : `~dl3lab.reduction.geom.WcsGeom`
            Counts geometry with a reco ``energy`` axis.
        energy_axis_true : `~dl3lab.reduction.axes.MapAxis`, optional
            True-energy axis of exposure and IRFs.
        name : str, optional
            Dataset name.
        **kwargs
            Other arguments of `MapDataset.create`.
        """
        dataset = cls._empty_base(geom, energy_axis_true=energy_axis_true, name=name, **kwargs)
        zeros = {key: Map.from_geom(geom, unit="") for key in _ONOFF_MAPS}
        return cls.from_map_dataset(dataset, name=dataset.name, **zeros)

    @classmethod
    def _empty_base(cls, geom, **kwargs):
        return MapDataset.create(geom, **kwargs)

    @classmethod
    def from_map_dataset(cls, dataset, acceptance, acceptance_off, counts_off=None, name=None):
        """ON/OFF dataset from a dataset and the OFF measurement.

        Parameters
        ----------
        dataset : `MapDataset`
            Dataset providing counts, exposure, IRFs, masks, GTI and meta table.
        acceptance, acceptance_off : `~dl3lab.reduction.maps.Map` or float
            Relative background efficiency of the ON and OFF measurements.
        counts_off : `~dl3lab.reduction.maps.Map`, optional
            OFF counts; when omitted and ``dataset`` has a background, ``npred_background / alpha``.
        name : str, optional
            Name of the new dataset (random if not given, as in Gammapy).

        The masks are copied (Gammapy shares them, so that a safe mask set on the
        ON/OFF dataset also changed the input dataset); the other maps are shared.
        """
        geom = dataset._geom
        acceptance = _as_map(acceptance, geom)
        acceptance_off = _as_map(acceptance_off, geom)
        if counts_off is None and getattr(dataset, "background", None) is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                alpha = acceptance.data / acceptance_off.data
                counts_off = Map.from_geom(geom, data=dataset.npred_background().data / alpha, unit="")
        return cls(
            models=dataset.models,
            counts=dataset.counts,
            exposure=dataset.exposure,
            counts_off=counts_off,
            edisp=dataset.edisp,
            psf=dataset.psf,
            mask_safe=None if dataset.mask_safe is None else dataset.mask_safe.copy(),
            mask_fit=None if dataset.mask_fit is None else dataset.mask_fit.copy(),
            acceptance=acceptance,
            acceptance_off=acceptance_off,
            gti=dataset.gti,
            name=name,
            meta_table=dataset.meta_table,
            meta=getattr(dataset, "meta", None),
        )

    def to_map_dataset(self, name=None):
        """Plain `MapDataset` whose background template is ``alpha * counts_off``."""
        return MapDataset(
            counts=self.counts,
            exposure=self.exposure,
            psf=self.psf,
            edisp=self.edisp,
            name=make_name(name),
            gti=self.gti,
            mask_fit=self.mask_fit,
            mask_safe=self.mask_safe,
            background=self.background,
            meta_table=self.meta_table,
            meta=self.meta,
        )

    def _map_items(self):
        keys = ("counts", "exposure", "mask_safe", "mask_fit") + _ONOFF_MAPS
        return {key: getattr(self, key) for key in keys if getattr(self, key) is not None}

    # ------------------------------------------------------------- stack
    @property
    def _is_stackable(self):
        incomplete = self.acceptance_off is None or self.acceptance is None or self.counts_off is None
        unmasked = self.mask_safe is None or bool(np.any(self.mask_safe.data))
        return not (incomplete and unmasked)

    def _stack_slices(self, other):
        if getattr(self._geom, "is_region", False):
            return (Ellipsis,)
        return (Ellipsis,) + tuple(overlap_slices(other._geom, self._geom)[0])

    def stack(self, other, nan_to_num=True):
        """Add ``other`` into this dataset, in place (spec §10.1, ON/OFF rules).

        With ``eps`` the other safe mask: ``acc = acc + acc_o eps``,
        ``OFF = OFF + OFF_o eps``, ``AO = alpha OFF + alpha_o OFF_o eps``; the new
        ``acceptance_off = acc OFF / AO``, or ``acc / (sum AO / sum OFF)`` where
        ``OFF = 0``. The sums are kept in float32, as in Gammapy. Then the
        `MapDataset` rules apply to the other maps.

        Raises
        ------
        TypeError
            If ``other`` is not an ON/OFF dataset.
        ValueError
            If either dataset lacks OFF counts or acceptances but has safe bins.
        """
        if not isinstance(other, MapDatasetOnOff):
            raise TypeError(f"cannot stack a {type(other).__name__} into a {type(self).__name__}")
        if not self._is_stackable or not other._is_stackable:
            raise ValueError(
                f"Cannot stack incomplete ON/OFF datasets ({self.name!r}, {other.name!r}): "
                "counts_off, acceptance or acceptance_off missing while the safe mask has valid bins"
            )
        geom = self._geom
        shape = geom.data_shape
        sl = self._stack_slices(other)
        eps = other.mask_safe.data if other.mask_safe is not None else np.ones(other._geom.data_shape, bool)
        total_acc = np.zeros(shape, np.float32)
        total_off = np.zeros(shape, np.float32)
        total_ao = np.zeros(shape, np.float32)
        if self.acceptance is not None:
            total_acc += _finite32(self.acceptance.data)
        if other.acceptance is not None:
            total_acc[sl] += _finite32(other.acceptance.data) * eps
        with np.errstate(invalid="ignore", over="ignore"):
            if self.counts_off is not None:
                total_off += _finite32(self.counts_off.data)
                total_ao += _finite32(self.alpha.data * self.counts_off.data)
            if other.counts_off is not None:
                total_off[sl] += _finite32(other.counts_off.data) * eps
                total_ao[sl] += _finite32(other.alpha.data * other.counts_off.data) * eps
        with np.errstate(divide="ignore", invalid="ignore"):
            acceptance_off = total_acc * total_off / total_ao
            average_alpha = total_ao.sum() / total_off.sum()
            is_zero = total_off == 0
            acceptance_off[is_zero] = total_acc[is_zero] / average_alpha
        if self.acceptance is None:
            self.acceptance = Map.from_geom(geom, unit="")
        self.acceptance.data[...] = total_acc
        self.acceptance_off = Map.from_geom(geom, data=acceptance_off, unit="")
        self.counts_off = Map.from_geom(geom, data=total_off, unit="")
        super().stack(other, nan_to_num=nan_to_num)

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r}, geom={self._geom!r})"

