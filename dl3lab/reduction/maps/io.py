"""FITS input/output of maps in the gadf layout (spec §12.1 image maps, §12.2 region maps).

Image maps are an image HDU (the full 2-D WCS, ``AXCOLSi``/``INTERPi``,
``WCSSHAPE``, ``BANDSHDU``, ``META`` JSON and ``BUNIT``) followed by a
``<NAME>_BANDS`` table. Boolean maps are written as int64 0/1 and marked with
``BOOLMAP = T`` so that they are read back as bool (HDUs named ``MASK*``
written by other tools are also read as bool).

Region maps are a binary table (``CHANNEL`` int16, ``DATA``; one row per index
of the first data dimension) followed by ``<NAME>_BANDS`` and
``<NAME>_REGION`` (a FITS region table with the helper WCS in its header).
"""

import json
import re
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.table import Table
from regions import Regions

from ..errors import DataFormatError
from ..geom import RegionGeom, WcsGeom
from ..geom._bands import axes_from_header, axes_to_bands_hdu, axes_to_header
from ..geom._regions import (
    compound_to_regions,
    pixel_to_sky_region,
    regions_to_compound,
    sky_to_pixel_region,
)

__all__ = ["map_to_hdulist", "map_from_hdulist", "write_map", "read_map", "meta_to_json", "meta_from_json"]

_QUANTITY_RE = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s+\S.*$")


# ------------------------------------------------------------------ meta JSON
def _json_default(value):
    if isinstance(value, u.Quantity):
        if value.isscalar:
            return f"{float(value.value)!r} {value.unit.to_string()}"
        return [f"{float(v)!r} {value.unit.to_string()}" for v in np.ravel(value.value)]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def meta_to_json(meta):
    """JSON string of a meta dict; quantities become ``"<value> <unit>"`` strings.

    Returns
    -------
    text : str
    quantity_keys : list of str
        Top-level keys that held quantities.
    """
    keys = [k for k, v in meta.items() if isinstance(v, u.Quantity) and v.isscalar]
    return json.dumps(meta, default=_json_default), keys


def meta_from_json(text, quantity_keys=None):
    """Inverse of :func:`meta_to_json`.

    Keys in ``quantity_keys`` are converted back to Quantities. Without that
    list (files written by other tools), any string of the form
    ``"<number> <unit>"`` with a valid unit is converted.
    """
    meta = json.loads(text) if text else {}
    for key, value in meta.items():
        if not isinstance(value, str):
            continue
        if quantity_keys is not None:
            if key in quantity_keys:
                meta[key] = u.Quantity(value)
        elif _QUANTITY_RE.match(value):
            try:
                meta[key] = u.Quantity(value)
            except (TypeError, ValueError):
                pass
    return meta


def _add_meta(header, m):
    text, keys = meta_to_json(m.meta)
    header["META"] = text
    if keys:
        header["METAQTY"] = (",".join(keys), "META keys holding quantities")
    header["BUNIT"] = m.unit.to_string("fits") if m.unit != u.dimensionless_unscaled else ""


def _read_meta(header):
    keys = header.get("METAQTY")
    keys = None if keys is None else [k for k in str(keys).split(",") if k]
    return meta_from_json(header.get("META", "{}"), quantity_keys=keys)


def _read_unit(header):
    bunit = str(header.get("BUNIT", "")).strip()
    return u.Unit(bunit, parse_strict="warn") if bunit else u.dimensionless_unscaled


# --------------------------------------------------------------------- write
def _image_hdulist(m, hdu, hdu_bands):
    name = "PRIMARY" if hdu is None else hdu.upper()
    bands_name = (hdu_bands or f"{name}_BANDS").upper()
    header = m.geom.to_header()
    if len(m.geom.axes):
        header["BANDSHDU"] = bands_name
    data = m.data
    if data.dtype == bool:
        data = data.astype(np.int64)
        header["BOOLMAP"] = (True, "boolean map written as 0/1")
    if name == "PRIMARY":
        hdus = [fits.PrimaryHDU(data=data, header=header)]
    else:
        header["EXTNAME"] = name
        hdus = [fits.PrimaryHDU(), fits.ImageHDU(data=data, header=header, name=name)]
    _add_meta(hdus[-1].header, m)
    if len(m.geom.axes):
        hdus.append(axes_to_bands_hdu(m.geom.axes, bands_name))
    return fits.HDUList(hdus)


def _region_table_hdu(geom, name):
    parts = compound_to_regions(geom.region)
    pixel = [sky_to_pixel_region(reg, geom.wcs) for reg in parts]
    table = Regions(pixel).serialize(format="fits")
    hdu = fits.BinTableHDU(table, name=name)
    for key, value in WcsGeom(geom.wcs).to_header().items():
        hdu.header[key] = value
    return hdu


def _region_hdulist(m, hdu, hdu_bands):
    name = (hdu or "SKYMAP").upper()
    bands_name = (hdu_bands or f"{name}_BANDS").upper()
    data = m.data
    if data.dtype == bool:
        data = data.astype(np.int64)
    if data.ndim == 2:
        data = data[np.newaxis]
    unit = m.unit.to_string("fits") if m.unit != u.dimensionless_unscaled else ""
    row_shape = data.shape[1:]
    tdim = "(" + ",".join(str(n) for n in reversed(row_shape)) + ")"
    fmt = f"{int(np.prod(row_shape))}{fits.column.NUMPY2FITS[data.dtype.newbyteorder('>').str[1:]]}"
    columns = [
        fits.Column("CHANNEL", format="I", array=np.arange(data.shape[0], dtype=np.int16)),
        fits.Column("DATA", format=fmt, unit=unit, dim=tdim, array=data),
    ]
    table = fits.BinTableHDU.from_columns(columns, name=name)
    axes_to_header(m.geom.axes, table.header)
    if m.data.dtype == bool:
        table.header["BOOLMAP"] = (True, "boolean map written as 0/1")
    _add_meta(table.header, m)
    hdus = [fits.PrimaryHDU(), table, axes_to_bands_hdu(m.geom.axes, bands_name)]
    if m.geom.region is not None:
        hdus.append(_region_table_hdu(m.geom, f"{name}_REGION"))
    return fits.HDUList(hdus)


def map_to_hdulist(m, hdu="SKYMAP", hdu_bands=None):
    """HDU list of a map; ``hdu=None`` puts an image map in the primary HDU."""
    if isinstance(m.geom, RegionGeom):
        return _region_hdulist(m, hdu, hdu_bands)
    return _image_hdulist(m, hdu, hdu_bands)


def write_map(m, filename, overwrite=False, hdu=None, hdu_bands=None):
    """Write a map to ``filename``; refuses to replace an existing file unless ``overwrite``."""
    path = Path(filename)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; use overwrite=True to replace it")
    map_to_hdulist(m, hdu=hdu, hdu_bands=hdu_bands).writeto(path, overwrite=overwrite)


# ---------------------------------------------------------------------- read
def _find_map_hdu(hdulist):
    for h in hdulist:
        name = h.name.upper()
        if name.endswith("_BANDS") or name.endswith("_REGION"):
            continue
        if isinstance(h, (fits.PrimaryHDU, fits.ImageHDU)) and h.data is not None and h.data.ndim >= 2:
            return name
        if isinstance(h, fits.BinTableHDU) and "DATA" in h.columns.names:
            return name
    raise DataFormatError("no map HDU found")


def _native(data):
    data = np.asarray(data)
    if data.dtype.byteorder not in ("=", "|"):
        data = data.astype(data.dtype.newbyteorder("="))
    return data


def _is_bool(header, name):
    return bool(header.get("BOOLMAP", False)) or name.upper().startswith("MASK")


def _read_region(hdulist, name):
    if name not in hdulist:
        return None, None
    region_hdu = hdulist[name]
    table = Table.read(region_hdu)
    wcs = WcsGeom.from_header(region_hdu.header).wcs
    pixel_regions = Regions.parse(table, format="fits")
    sky = []
    for reg in pixel_regions:
        reg.meta["include"] = True
        sky.append(pixel_to_sky_region(reg, wcs))
    return regions_to_compound(sky), wcs


def _region_map_from_hdu(hdulist, h, name, hdu_bands):
    from .core import Map

    data = _native(h.data["DATA"])
    header = h.header
    if _is_bool(header, name):
        data = data.astype(bool)
    bands = (hdu_bands or f"{name}_BANDS").upper()
    shape = list(reversed(data.shape[:-2])) if data.ndim > 2 else []
    axes = axes_from_header(hdulist[bands], shape, header=header) if bands in hdulist else []
    region, wcs = _read_region(hdulist, f"{name}_REGION")
    geom = RegionGeom(region, axes=axes, wcs=wcs)
    data = data.reshape(geom.data_shape)
    unit = h.columns["DATA"].unit or ""
    unit = u.Unit(unit, parse_strict="warn") if unit else _read_unit(header)
    return Map.from_geom(geom, data=data, unit=unit, meta=_read_meta(header))


def map_from_hdulist(hdulist, hdu=None, hdu_bands=None):
    """Read a map from an HDU list (first map HDU unless ``hdu`` is given)."""
    from .core import Map

    name = _find_map_hdu(hdulist) if hdu is None else hdu.upper()
    if name not in hdulist:
        raise DataFormatError(f"HDU {name!r} not found")
    h = hdulist[name]
    if isinstance(h, fits.BinTableHDU):
        return _region_map_from_hdu(hdulist, h, name, hdu_bands)
    header = h.header
    bands = (hdu_bands or header.get("BANDSHDU") or f"{name}_BANDS").upper()
    data = _native(h.data)
    shape = [int(n) for n in reversed(data.shape)]
    axes = axes_from_header(hdulist[bands], shape[2:], header=header) if bands in hdulist else []
    geom = WcsGeom.from_header(header, axes=axes)
    if _is_bool(header, name):
        data = data.astype(bool)
    return Map.from_geom(geom, data=data, unit=_read_unit(header), meta=_read_meta(header))


def read_map(filename, hdu=None, hdu_bands=None):
    """Read a map from a FITS file."""
    with fits.open(filename, memmap=False) as hdulist:
        return map_from_hdulist(hdulist, hdu=hdu, hdu_bands=hdu_bands)
