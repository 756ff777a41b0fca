"""`MapDataset`: counts, exposure, background and IRF maps on one sky geometry (spec §3, §10, §11)."""

import base64
import uuid

import numpy as np
from astropy import units as u
from astropy.table import Table
from astropy.time import Time

from ..axes import MapAxis
from ..data.gti import GTI
from ..maps import Map
from .background_model import FoVBackgroundModel
from .irf_maps import EDispKernelMap, EDispMap, PSFMap, diagonal_kernel
from .masks import same_sky_grid, stack_meta_tables
from .memory import MAP_DTYPE, check_dataset_size, map_dataset_nbytes
from .stat import cash
from .summary import format_summary, info_dict

__all__ = ["MapDataset", "make_name", "RAD_AXIS_DEFAULT", "MIGRA_AXIS_DEFAULT", "BINSZ_IRF_DEFAULT"]

RAD_AXIS_DEFAULT = MapAxis.from_bounds(0, 0.66, nbin=66, interp="lin", unit="deg", name="rad")
MIGRA_AXIS_DEFAULT = MapAxis.from_bounds(0.2, 5, nbin=48, interp="lin", name="migra")
BINSZ_IRF_DEFAULT = 0.2 * u.deg


def _filled_copy(shape, source, parent, child):
    """Array of ``shape`` holding ``source[..., parent]`` at ``[..., child]`` and zeros elsewhere.

    Only the part outside ``child`` is zeroed (a trimmed cutout has none), so the
    new array is written once.
    """
    data = np.empty(shape, dtype=source.dtype)
    inner = (Ellipsis,) + child
    data[inner] = source[(Ellipsis,) + parent]
    if data[inner].size != data.size:
        mask = np.ones(shape[-2:], bool)
        mask[child] = False
        data[..., mask] = 0
    return data


def cutout_maps(maps, position, width, mode="trim", min_npix=1, zero=()):
    """Cut out several maps; maps on the same sky grid share one geometry cutout.

    Parameters
    ----------
    maps : dict
        ``{key: Map}``.
    zero : collection of str
        Keys of maps known to be all zero: their cutouts are new zero arrays, nothing is copied.

    Returns
    -------
    dict
        ``{key: Map}`` cut out around ``position``; pixels outside the parent are zero.
    """
    jobs, cuts = [], []
    for key, item in maps.items():
        found = next((cut for cut in cuts if same_sky_grid(cut[0], item.geom)), None)
        if found is None:
            cut, (parent, child) = item.geom._cutout_and_slices(position, width, mode=mode, min_npix=min_npix)
            found = (item.geom, cut.to_image(), parent, child)
            cuts.append(found)
        _, cut_image, parent, child = found
        geom = cut_image.to_cube(item.geom.axes) if len(item.geom.axes) else cut_image
        jobs.append((key, geom, item, tuple(parent), tuple(child)))
    copies = iter(_copy_parts([(geom.data_shape, item.data, parent, child)
                               for key, geom, item, parent, child in jobs if key not in zero]))
    datas = [np.zeros(geom.data_shape, item.data.dtype) if key in zero else next(copies)
             for key, geom, item, _, _ in jobs]
    return {
        key: Map.from_geom(geom, data=data, unit=item.unit, meta=dict(item.meta))
        for (key, geom, item, _, _), data in zip(jobs, datas)
    }


#: Cutouts copying at least this many bytes share the copies with a helper thread.
THREADED_COPY_MIN = 8 << 20


def _copy_parts(parts):
    """`_filled_copy` of each ``(shape, source, parent, child)``; large sets split with a helper thread."""
    import threading

    from ..executor import max_threads, thread_pool

    sizes = [int(np.prod(shape)) * source.itemsize for shape, source, _, _ in parts]
    in_pool = threading.current_thread().name.startswith("dl3lab")
    if len(parts) < 2 or sum(sizes) < THREADED_COPY_MIN or max_threads() < 2 or in_pool:
        return [_filled_copy(*part) for part in parts]
    # the largest copies alternate between the helper and this thread
    order = sorted(range(len(parts)), key=lambda i: -sizes[i])
    helper = [i for n, i in enumerate(order) if n % 2 == 0]
    future = thread_pool().submit(lambda: {i: _filled_copy(*parts[i]) for i in helper})
    result = {i: _filled_copy(*parts[i]) for i in order if i not in helper}
    result.update(future.result())
    return [result[i] for i in range(len(parts))]


def _detect_format(filename):
    """``"ogip"`` for a PHA file, else ``"gadf"``."""
    from astropy.io import fits

    try:
        with fits.open(filename, memmap=False) as hdulist:
            return "ogip" if "SPECTRUM" in hdulist else "gadf"
    except FileNotFoundError:
        raise
    except Exception:
        return "gadf"  # the gadf reader reports the problem with the file name


def make_name(name=None):
    """The given name, or a random 8-character name."""
    if name is not None:
        if not isinstance(name, str):
            raise ValueError(f"dataset name must be a string, got {type(name).__name__}")
        return name
    while True:
        name = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode()[:8]
        if name[0] != "_":
            return name


class MapDataset:
    """Binned data and responses of one or more observations on a WCS geometry.

    Parameters
    ----------
    counts, exposure, background : `~dl3lab.reduction.maps.Map`, optional
        Counts (reco energy), exposure (true energy, m2 s) and background template.
    psf : `PSFMap`, optional
        PSF map.
    edisp : `EDispKernelMap` or `EDispMap`, optional
        Energy dispersion.
    mask_safe, mask_fit : `~dl3lab.reduction.maps.Map`, optional
        Boolean masks on the counts geometry (True = use the bin).
    gti : `~dl3lab.reduction.data.GTI`, optional
        Good time intervals.
    meta_table : `~astropy.table.Table`, optional
        One row per observation (``TELESCOP``, ``OBS_ID``, ``OBS_MODE``, pointing).
    models : list of `FoVBackgroundModel`, optional
        Background models.
    name : str, optional
        Dataset name (random if not given).
    """

    tag = "MapDataset"
    stat_type = "cash"

    def __init__(
        self,
        models=None,
        counts=None,
        exposure=None,
        background=None,
        psf=None,
        edisp=None,
        mask_safe=None,
        mask_fit=None,
        gti=None,
        meta_table=None,
        name=None,
        meta=None,
    ):
        self._name = make_name(name)
        self.counts = counts
        self.exposure = exposure
        self.background = background
        self.psf = psf
        self.edisp = edisp
        self.mask_safe = mask_safe
        self.mask_fit = mask_fit
        self.gti = gti
        self.meta_table = meta_table
        self.meta = dict(meta or {})
        self.models = models

    # --------------------------------------------------------------- basics
    @property
    def meta_table(self):
        """Per-observation meta data (`~astropy.table.Table` of one row of arrays, or None)."""
        if self._meta_pending:  # (new lists throughout: shallow copies share nothing that changes)
            self._meta_table, self._meta_pending = stack_meta_tables(self._meta_table, *self._meta_pending), []
        return self._meta_table

    @meta_table.setter
    def meta_table(self, value):
        self._meta_table, self._meta_pending = value, []

    def _append_meta_tables(self, tables):
        """Stack ``tables`` after the meta table when it is next read (one concatenation for many stacks)."""
        tables = [table.copy() for table in tables]  # as they are now (one-row tables: cheap)
        if self._meta_table is None and not self._meta_pending:
            self._meta_table, tables = tables[0], tables[1:]
        self._meta_pending = self._meta_pending + tables

    @property
    def name(self):
        """Dataset name."""
        return self._name

    @property
    def models(self):
        """Background models of this dataset (a list, possibly empty)."""
        return self._models

    @models.setter
    def models(self, value):
        if value is None:
            value = []
        elif isinstance(value, FoVBackgroundModel):
            value = [value]
        self._models = list(value)

    @property
    def background_model(self):
        """The `FoVBackgroundModel` of this dataset, or None."""
        return self._models[0] if self._models else None

    @property
    def _geom(self):
        for item in (self.counts, self.background, self.mask_safe, self.mask_fit):
            if item is not None:
                return item.geom
        raise ValueError("dataset has no map defining its geometry")

    @property
    def geoms(self):
        """Geometries of the dataset maps."""
        geoms = {"geom": self._geom}
        if self.exposure is not None:
            geoms["geom_exposure"] = self.exposure.geom
        if self.psf is not None:
            geoms["geom_psf"] = self.psf.psf_map.geom
        if self.edisp is not None:
            geoms["geom_edisp"] = self.edisp.edisp_map.geom
        return geoms

    @property
    def energy_range(self):
        """Reco energy bounds of the safe mask."""
        axis = self._geom.axes["energy"]
        mask = self.mask_safe.data.reshape(axis.nbin, -1).any(axis=1) if self.mask_safe is not None else None
        if mask is None or not mask.any():
            return axis.edges[0], axis.edges[-1]
        idx = np.flatnonzero(mask)
        return axis.edges[idx[0]], axis.edges[idx[-1] + 1]

    # ---------------------------------------------------------- create
    @classmethod
    def create(
        cls,
        geom,
        energy_axis_true=None,
        migra_axis=None,
        rad_axis=None,
        binsz_irf=None,
        reference_time="2000-01-01",
        name=None,
        meta_table=None,
        reco_psf=False,
        **kwargs,
    ):
        """Empty dataset on a geometry (spec §3).

        Parameters
        ----------
        geom : `~dl3lab.reduction.geom.WcsGeom`
            Counts geometry with a reco ``energy`` axis.
        energy_axis_true : `~dl3lab.reduction.axes.MapAxis`, optional
            True energy axis of exposure and IRFs (default: the reco axis renamed).
        migra_axis : `~dl3lab.reduction.axes.MapAxis`, optional
            If given, the energy dispersion is an `EDispMap` on this axis; otherwise an
            `EDispKernelMap`.
        rad_axis : `~dl3lab.reduction.axes.MapAxis`, optional
            PSF offset axis (default 0-0.66 deg in 66 bins).
        binsz_irf : float or `~astropy.units.Quantity`, optional
            Pixel size of the PSF and energy dispersion maps (default 0.2 deg).
        reference_time : str or `~astropy.time.Time`
            GTI reference time (default 2000-01-01, UTC).
        name : str, optional
            Dataset name.
        meta_table : `~astropy.table.Table`, optional
            Observation table.
        reco_psf : bool
            Use a reco-energy PSF axis.

        Raises
        ------
        DatasetTooLargeError
            If the maps would exceed the memory limit (see
            `~dl3lab.reduction.datasets.memory`); nothing is allocated then.
        """
        energy_axis = geom.axes["energy"]
        if energy_axis_true is None:
            energy_axis_true = energy_axis.copy(name="energy_true")
        if energy_axis_true.name != "energy_true":
            raise ValueError(f"energy_axis_true must be named 'energy_true', not {energy_axis_true.name!r}")
        rad_axis = RAD_AXIS_DEFAULT if rad_axis is None else rad_axis
        binsz_irf = BINSZ_IRF_DEFAULT if binsz_irf is None else u.Quantity(binsz_irf, "deg")
        image = geom.to_image()
        geom_irf = image.to_binsz(binsz_irf)
        sizes = map_dataset_nbytes(geom, energy_axis_true, migra_axis, rad_axis, binsz_irf, reco_psf, geom_irf=geom_irf)
        check_dataset_size(sizes, what=f"MapDataset {name!r}" if name else "the MapDataset")
        counts = Map.from_geom(geom, unit="", dtype=MAP_DTYPE)
        background = Map.from_geom(geom, unit="", dtype=MAP_DTYPE)
        exposure = Map.from_geom(image.to_cube([energy_axis_true]), unit="m2 s", dtype=MAP_DTYPE)
        psf_energy = energy_axis if reco_psf else energy_axis_true
        psf = PSFMap(
            Map.from_geom(geom_irf.to_cube([rad_axis, psf_energy]), unit="sr-1", dtype=MAP_DTYPE),
            Map.from_geom(geom_irf.to_cube([rad_axis.squash(), psf_energy]), unit="m2 s", dtype=MAP_DTYPE),
        )
        if migra_axis is None:
            kernel = diagonal_kernel(energy_axis, energy_axis_true)
            edisp_geom = geom_irf.to_cube([energy_axis, energy_axis_true])
            data = np.broadcast_to(kernel[:, :, None, None], edisp_geom.data_shape).astype(MAP_DTYPE)
            edisp = EDispKernelMap(
                Map.from_geom(edisp_geom, data=data, unit=""),
                Map.from_geom(geom_irf.to_cube([energy_axis.squash(), energy_axis_true]), unit="m2 s", dtype=MAP_DTYPE),
            )
        else:
            edisp_geom = geom_irf.to_cube([migra_axis, energy_axis_true])
            migra = migra_axis.edges.value
            diag = ((migra[:-1] <= 1) & (migra[1:] > 1)) / np.diff(migra)
            data = np.broadcast_to(diag[None, :, None, None], edisp_geom.data_shape).astype(MAP_DTYPE)
            edisp = EDispMap(
                Map.from_geom(edisp_geom, data=data, unit=""),
                Map.from_geom(geom_irf.to_cube([migra_axis.squash(), energy_axis_true]), unit="m2 s", dtype=MAP_DTYPE),
            )
        mask_safe = Map.from_geom(geom, dtype=bool)
        if not isinstance(reference_time, Time):
            reference_time = Time(reference_time)
        gti = GTI.create([] * u.s, [] * u.s, reference_time=reference_time)
        dataset = cls(
            counts=counts,
            exposure=exposure,
            background=background,
            psf=psf,
            edisp=edisp,
            mask_safe=mask_safe,
            gti=gti,
            meta_table=meta_table,
            name=name,
            **kwargs,
        )
        if not kwargs and meta_table is None:  # enough to create it again elsewhere (see datasets.template)
            dataset._creation = dict(geom=geom, energy_axis_true=energy_axis_true, migra_axis=migra_axis,
                                     rad_axis=rad_axis, binsz_irf=binsz_irf, reference_time=reference_time,
                                     reco_psf=reco_psf)
        return dataset

    # ------------------------------------------------------- predictions
    def _background_factor(self):
        """Per-energy FoV correction, shape broadcastable to the background data."""
        model = self.background_model
        if model is None:
            return None
        energy = self._geom.axes["energy"].center.to_value("TeV")
        factor = model.factor(energy)
        return factor.reshape((-1,) + (1,) * (self.background.data.ndim - 1))

    def npred_background(self):
        """Predicted background counts: the template times the FoV model correction."""
        if self.background is None:
            return Map.from_geom(self._geom, unit="")
        factor = self._background_factor()
        if factor is None:
            return self.background.copy()
        return self.background.copy(data=self.background.data * factor)

    def npred_signal(self):
        """Predicted signal counts (no sky models are supported: zeros)."""
        return Map.from_geom(self._geom, unit="")

    def npred(self):
        """Predicted counts: signal plus background, negatives set to zero."""
        data = self.npred_background().data + self.npred_signal().data
        return Map.from_geom(self._geom, data=np.clip(data, 0, None), unit="")

    @property
    def mask(self):
        """Combined ``mask_safe & mask_fit`` as a bool `Map`, or None."""
        if self.mask_safe is None and self.mask_fit is None:
            return None
        if self.mask_safe is None:
            return self.mask_fit
        if self.mask_fit is None:
            return self.mask_safe
        return self.mask_safe.copy(data=self.mask_safe.data & self.mask_fit.data)

    @property
    def mask_image(self):
        """``mask`` ORed over energy, as an image `Map`, or None."""
        mask = self.mask
        if mask is None:
            return None
        return Map.from_geom(mask.geom.to_image(), data=mask.data.any(axis=0), dtype=bool)

    @property
    def mask_safe_image(self):
        """``mask_safe`` ORed over energy, as an image `Map`, or None."""
        if self.mask_safe is None:
            return None
        data = self.mask_safe.data.any(axis=0)
        return Map.from_geom(self.mask_safe.geom.to_image(), data=data, dtype=bool)

    def stat_array(self):
        """Cash statistic per bin."""
        return cash(self.counts.data.astype(float), self.npred().data)

    def stat_sum(self):
        """Total Cash statistic over the masked bins."""
        stat = self.stat_array()
        mask = self.mask
        if mask is not None:
            stat = stat[mask.data]
        return float(np.sum(stat, dtype=float))

    # ------------------------------------------------------------ summary
    def info_dict(self, in_safe_data_range=True):
        """Summary figures as a dict (spec §11)."""
        return info_dict(self, in_safe_data_range=in_safe_data_range)

    def __str__(self):
        return format_summary(self)

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r}, geom={self._geom!r})"

    # -------------------------------------------------------- copy / cut
    def copy(self, name=None):
        """Deep copy under a new name (random if not given)."""
        return self._copy(name)

    def _copy(self, name=None, replace=None):
        """:meth:`copy` with the attributes named in ``replace`` set to the given values instead of copies."""
        replace = replace or {}
        new = self.__class__.__new__(self.__class__)
        new.__dict__.update(self.__dict__)
        for key, value in self.__dict__.items():
            if key in replace:
                new.__dict__[key] = replace[key]
            elif hasattr(value, "copy") and not isinstance(value, str | int | float):
                new.__dict__[key] = value.copy()
        new.meta = dict(self.meta)
        new._name = make_name(name)
        new.models = [m.copy(dataset_name=new.name) for m in self.models]
        return new

    def _map_items(self):
        return {
            key: getattr(self, key)
            for key in ("counts", "exposure", "background", "mask_safe", "mask_fit")
            if getattr(self, key) is not None
        }

    def cutout(self, position, width, mode="trim", name=None):
        """Cut out a square region around ``position`` from every map.

        Maps on the same sky grid are cut with one geometry cutout. IRF maps keep at
        least 3 pixels per side. Models are copied and renamed.
        """
        return self._cutout(position, width, mode, name)

    def _cutout(self, position, width, mode="trim", name=None, zero=()):
        """:meth:`cutout`; the maps named in ``zero`` (keys as in `cutout_maps`: ``"counts"``,
        ``"psf"``, ``"psf_exposure"``, ...) are known to be all zero and are not copied."""
        kwargs = {"gti": self.gti, "meta_table": self.meta_table, "name": name, "meta": self.meta}
        sky_maps = self._map_items()
        kwargs.update(cutout_maps(sky_maps, position, width, mode=mode, zero=zero))
        if self.psf is not None or self.edisp is not None:
            irf = {}
            if self.psf is not None:
                irf["psf"], irf["psf_exposure"] = self.psf.psf_map, self.psf.exposure_map
            if self.edisp is not None:
                irf["edisp"], irf["edisp_exposure"] = self.edisp.edisp_map, self.edisp.exposure_map
            cut = cutout_maps({k: v for k, v in irf.items() if v is not None}, position, width, mode, min_npix=3,
                              zero=zero)
            if self.psf is not None:
                kwargs["psf"] = type(self.psf)(cut["psf"], cut.get("psf_exposure"))
            if self.edisp is not None:
                kwargs["edisp"] = type(self.edisp)(cut["edisp"], cut.get("edisp_exposure"))
        new = self.__class__(**kwargs)
        new.models = [m.copy(dataset_name=new.name) for m in self.models]
        return new

    # ------------------------------------------------------------- stack
    def stack(self, other, nan_to_num=True):
        """Add ``other`` into this dataset, in place (spec §10.1).

        The other dataset's safe mask is applied first; its FoV background model is
        baked into the stacked background, which then has no model. A dataset whose
        safe mask is all False adds nothing, not even its GTI or meta table. To stack
        several datasets, `~dl3lab.reduction.datasets.stack_engine.stack_into` (in
        place) and `~dl3lab.reduction.datasets.stack_engine.stack_datasets` give the
        same result faster.
        """
        from .stack_engine import stack_into

        stack_into(self, [other])

    # ---------------------------------------------------------- reshape
    def to_image(self, name=None):
        """Sum over reco energy inside the safe mask (a one-bin energy axis)."""
        geom = self._geom
        squashed = geom.squash("energy")
        mask = self.mask_safe.data if self.mask_safe is not None else np.ones(geom.data_shape, bool)
        kwargs = {"gti": self.gti, "meta_table": self.meta_table, "name": name, "meta": self.meta}
        kwargs["counts"] = Map.from_geom(
            squashed, data=(self.counts.data * mask).sum(axis=0, keepdims=True), dtype=self.counts.data.dtype
        )
        if self.background is not None:
            bkg = (self.npred_background().data * mask).sum(axis=0, keepdims=True)
            kwargs["background"] = Map.from_geom(squashed, data=bkg)
        kwargs["mask_safe"] = Map.from_geom(squashed, data=mask.any(axis=0, keepdims=True), dtype=bool)
        if self.mask_fit is not None:
            fit = self.mask_fit.data.any(axis=0, keepdims=True)
            kwargs["mask_fit"] = Map.from_geom(squashed, data=fit, dtype=bool)
        kwargs["exposure"] = self.exposure
        kwargs["psf"] = self.psf
        return MapDataset(**kwargs)

    # ------------------------------------------------------------------ I/O
    def to_hdulist(self):
        """The dataset as an `~astropy.io.fits.HDUList` in the gadf layout (spec §12.1)."""
        from .io import dataset_to_hdulist

        return dataset_to_hdulist(self)

    @classmethod
    def from_hdulist(cls, hdulist, name=None):
        """Dataset from a gadf `~astropy.io.fits.HDUList`."""
        from .io import dataset_from_hdulist

        return dataset_from_hdulist(hdulist, cls=cls, name=name)

    def write(self, filename, overwrite=False, format="gadf"):
        """Write to a FITS file that Gammapy reads.

        Parameters
        ----------
        filename : path
            Target file.
        overwrite : bool
            Replace an existing file (otherwise `FileExistsError`).
        format : {"gadf", "ogip"}
            ``gadf``: one file with every map (spec §12.1, §12.2). ``ogip``: PHA, BKG,
            ARF and RMF files, for ON/OFF spectra only (spec §12.3).

        Notes
        -----
        Files are written under temporary names and renamed when complete, so an
        error never leaves a partial file and never touches an existing one.
        """
        from .io import write_dataset
        from .io.ogip import write_ogip

        if format == "gadf":
            write_dataset(self, filename, overwrite=overwrite)
        elif format == "ogip":
            if self.tag != "SpectrumDatasetOnOff":
                raise ValueError(f"the ogip format is for SpectrumDatasetOnOff, not {self.tag}")
            write_ogip(self, filename, overwrite=overwrite)
        else:
            raise ValueError(f"unknown format {format!r}; use 'gadf' or 'ogip'")

    @classmethod
    def read(cls, filename, name=None, format=None):
        """Read a dataset written by dl3lab or Gammapy (``format`` is detected when None)."""
        from .io import read_dataset
        from .io.ogip import read_ogip

        if format is None:
            format = _detect_format(filename)
        if format == "ogip":
            dataset = read_ogip(filename)
            if name is not None:
                dataset._name = name
            return dataset
        return read_dataset(filename, cls=None if cls is MapDataset else cls, name=name)

    @property
    def meta_table_or_empty(self):
        """The meta table, or an empty table."""
        return self.meta_table if self.meta_table is not None else Table()
