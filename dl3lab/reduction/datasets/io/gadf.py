"""Datasets as gadf FITS files that Gammapy reads (reduction spec §12.1, §12.2).

A dataset file holds a primary HDU naming the dataset, one map HDU (image or
region table) plus its ``_BANDS`` table per component, the ``GTI`` table and the
``META_TABLE``.
"""

from astropy.io import fits
from astropy.table import Table

from ...data.gti import GTI
from ...errors import DataFormatError
from ...maps import Map
from .atomic import atomic_paths

__all__ = ["dataset_to_hdulist", "dataset_from_hdulist", "write_dataset", "read_dataset"]

_CREATOR = "dl3lab"


def _map_hdus(m, name):
    """The map's HDUs (data, bands and, for region maps, region) without the primary HDU."""
    hdulist = m.to_hdulist(hdu=name, hdu_bands=f"{name}_BANDS")
    return list(hdulist[1:])


def _components(dataset):
    """``[(HDU name, Map)]`` of the dataset's maps, in file order."""
    items = [("COUNTS", dataset.counts), ("EXPOSURE", dataset.exposure)]
    if not hasattr(dataset, "counts_off"):
        items.append(("BACKGROUND", dataset.background))
    if dataset.edisp is not None:
        items += [("EDISP", dataset.edisp.edisp_map), ("EDISP_EXPOSURE", dataset.edisp.exposure_map)]
    if getattr(dataset, "psf", None) is not None:
        items += [("PSF", dataset.psf.psf_map), ("PSF_EXPOSURE", dataset.psf.exposure_map)]
    items += [("MASK_SAFE", dataset.mask_safe), ("MASK_FIT", dataset.mask_fit)]
    if hasattr(dataset, "counts_off"):
        items += [
            ("COUNTS_OFF", _with_off_regions(dataset, dataset.counts_off)),
            ("ACCEPTANCE", dataset.acceptance),
            ("ACCEPTANCE_OFF", dataset.acceptance_off),
        ]
    return [(name, m) for name, m in items if m is not None]


def _with_off_regions(dataset, counts_off):
    """OFF counts on a region geometry listing the OFF regions (as Gammapy writes them), when known."""
    regions = list(getattr(dataset, "off_regions", []) or [])
    if counts_off is None or not regions:
        return counts_off
    from ...geom import RegionGeom
    from ...geom._regions import regions_to_compound

    geom = RegionGeom(regions_to_compound(regions), axes=counts_off.geom.axes)
    return Map.from_geom(geom, data=counts_off.data, unit=counts_off.unit, meta=dict(counts_off.meta))


def dataset_to_hdulist(dataset):
    """`~astropy.io.fits.HDUList` of a map or spectrum dataset in the gadf layout."""
    primary = fits.PrimaryHDU()
    primary.header["NAME"] = dataset.name
    hdus = [primary]
    for name, m in _components(dataset):
        hdus += _map_hdus(m, name)
    if dataset.gti is not None:
        hdus.append(dataset.gti.to_table_hdu(name="GTI"))
    if dataset.meta_table is not None and len(dataset.meta_table):
        hdus.append(fits.table_to_hdu(Table(dataset.meta_table)))
        hdus[-1].name = "META_TABLE"
    for hdu in hdus:
        hdu.header["CREATOR"] = _CREATOR
    return fits.HDUList(hdus)


def _read_map(hdulist, name):
    if name not in hdulist:
        return None
    return Map.from_hdulist(hdulist, hdu=name, hdu_bands=f"{name}_BANDS")


def dataset_from_hdulist(hdulist, cls=None, name=None, filename=None):
    """Build a dataset from a gadf HDU list.

    The class is chosen from the content (ON/OFF maps, region or sky geometry)
    unless ``cls`` is given.

    Raises
    ------
    DataFormatError
        If a required HDU is missing or cannot be read; the message names the file.
    """
    from ..irf_maps import EDispKernelMap, EDispMap, PSFMap

    names = {hdu.name.upper() for hdu in hdulist}
    if "COUNTS" not in names:
        raise DataFormatError("not a dataset file: no COUNTS HDU", filename=filename)
    try:
        maps = {key: _read_map(hdulist, key) for key in (
            "COUNTS", "EXPOSURE", "BACKGROUND", "EDISP", "EDISP_EXPOSURE", "PSF", "PSF_EXPOSURE",
            "MASK_SAFE", "MASK_FIT", "COUNTS_OFF", "ACCEPTANCE", "ACCEPTANCE_OFF",
        )}
    except Exception as exc:
        raise DataFormatError(f"cannot read dataset maps: {type(exc).__name__}: {exc}", filename=filename) from exc
    for key in ("MASK_SAFE", "MASK_FIT"):
        if maps[key] is not None and maps[key].data.dtype != bool:
            maps[key] = Map.from_geom(maps[key].geom, data=maps[key].data.astype(bool), dtype=bool)
    if cls is None:
        cls = _dataset_class(maps)
    kwargs = {"counts": maps["COUNTS"], "exposure": maps["EXPOSURE"], "mask_safe": maps["MASK_SAFE"],
              "mask_fit": maps["MASK_FIT"]}
    if maps["EDISP"] is not None:
        edisp_cls = EDispKernelMap if "energy" in maps["EDISP"].geom.axes.names else EDispMap
        kwargs["edisp"] = edisp_cls(maps["EDISP"], maps["EDISP_EXPOSURE"])
    if maps["PSF"] is not None:
        kwargs["psf"] = PSFMap(maps["PSF"], maps["PSF_EXPOSURE"])
    if maps["COUNTS_OFF"] is not None or maps["ACCEPTANCE_OFF"] is not None:
        kwargs.update(counts_off=maps["COUNTS_OFF"], acceptance=maps["ACCEPTANCE"],
                      acceptance_off=maps["ACCEPTANCE_OFF"])
    else:
        kwargs["background"] = maps["BACKGROUND"]
    if "GTI" in names:
        kwargs["gti"] = GTI.from_table_hdu(hdulist["GTI"])
    if "META_TABLE" in names:
        kwargs["meta_table"] = Table.read(hdulist["META_TABLE"])
    kwargs["name"] = name or str(hdulist[0].header.get("NAME", "")).strip() or None
    if "psf" in kwargs and not _accepts_psf(cls):
        kwargs.pop("psf")
    off = maps["COUNTS_OFF"]
    if off is not None and type(off.geom).__name__ == "RegionGeom" and "off_regions" in _init_names(cls):
        from ...geom._regions import compound_to_regions

        parts = compound_to_regions(off.geom.region) if off.geom.region is not None else []
        on_parts = compound_to_regions(maps["COUNTS"].geom.region) if maps["COUNTS"].geom.region is not None else []
        if parts and [str(p) for p in parts] != [str(p) for p in on_parts]:
            kwargs["off_regions"] = parts
            kwargs["counts_off"] = Map.from_geom(maps["COUNTS"].geom, data=off.data, unit=off.unit, meta=off.meta)
    return cls(**kwargs)


def _init_names(cls):
    import inspect

    return set(inspect.signature(cls.__init__).parameters)


def _accepts_psf(cls):
    return "Spectrum" not in cls.__name__


def _dataset_class(maps):
    from ... import datasets

    on_off = maps["COUNTS_OFF"] is not None or maps["ACCEPTANCE_OFF"] is not None
    region = type(maps["COUNTS"].geom).__name__ == "RegionGeom"
    name = {
        (False, False): "MapDataset",
        (True, True): "SpectrumDatasetOnOff",
        (False, True): "SpectrumDataset",
        (True, False): "MapDatasetOnOff",
    }[(on_off, region)]
    return getattr(datasets, name)


def write_dataset(dataset, filename, overwrite=False):
    """Write ``dataset`` to ``filename`` atomically (no partial file is ever left at ``filename``)."""
    hdulist = dataset_to_hdulist(dataset)
    with atomic_paths([filename], overwrite=overwrite) as (tmp,):
        hdulist.writeto(tmp)


def read_dataset(filename, cls=None, name=None):
    """Read a dataset written in the gadf layout (by dl3lab or Gammapy)."""
    try:
        with fits.open(filename, memmap=False) as hdulist:
            hdulist = fits.HDUList([hdu.copy() for hdu in hdulist])
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise DataFormatError(f"not a readable FITS file ({type(exc).__name__}: {exc})", filename=filename) from exc
    return dataset_from_hdulist(hdulist, cls=cls, name=name, filename=filename)

