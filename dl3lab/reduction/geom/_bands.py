"""Non-spatial axes in the gadf map format: ``AXCOLSi``/``INTERPi`` keywords and BANDS tables (spec §12.1)."""

import numpy as np
from astropy.io import fits

from ..axes import MapAxis

__all__ = ["axis_column_names", "axes_to_header", "axes_to_bands_hdu", "axes_from_header"]


def axis_column_names(axis):
    """``(centre, min, max)`` column names of an axis; ``E_MIN``/``E_MAX`` for ``energy``."""
    name = axis.name.upper()
    if axis.name == "energy":
        return "ENERGY", "E_MIN", "E_MAX"
    return name, f"{name}_MIN", f"{name}_MAX"


def _axcols(axis):
    center, lo, hi = axis_column_names(axis)
    return f"{lo},{hi}" if axis.node_type == "edges" else center


def axes_to_header(axes, header):
    """Add ``AXCOLSi`` and ``INTERPi`` (1-based, axis order) to ``header``."""
    for i, axis in enumerate(axes, start=1):
        header[f"AXCOLS{i}"] = _axcols(axis)
        header[f"INTERP{i}"] = axis.interp
    return header


def axes_to_bands_hdu(axes, name):
    """BANDS table: one row per combination of bins, the first axis varying fastest.

    Columns are ``CHANNEL`` then, per axis, centre, ``_MIN`` and ``_MAX`` with units.
    """
    shape = tuple(ax.nbin for ax in axes)
    grids = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    # first axis fastest: flatten in Fortran order
    idx = [g.ravel(order="F") for g in grids]
    columns = [fits.Column("CHANNEL", format="K", array=np.arange(int(np.prod(shape)), dtype=np.int64))]
    for axis, index in zip(axes, idx):
        unit = axis.unit.to_string("fits") if axis.unit is not None else ""
        cname, lo, hi = axis_column_names(axis)
        for col, values in (
            (cname, axis.center.value),
            (lo, axis.edges_min.value),
            (hi, axis.edges_max.value),
        ):
            columns.append(fits.Column(col, format="D", unit=unit, array=np.asarray(values)[index]))
    hdu = fits.BinTableHDU.from_columns(columns, name=name)
    axes_to_header(axes, hdu.header)
    return hdu


def _axis_name_from_column(col):
    col = col.strip().upper()
    if col == "E_MIN":
        return "energy"
    if col.endswith("_MIN"):
        col = col[: -len("_MIN")]
    return col.lower()


def axes_from_header(hdu_bands, shape, header=None):
    """Read the non-spatial axes of a map from its BANDS table.

    Parameters
    ----------
    hdu_bands : `~astropy.io.fits.BinTableHDU`
        The BANDS table.
    shape : list of int
        Number of bins per axis, in axis order (``WCSSHAPE`` without nx, ny);
        taken from the table when empty.
    header : `~astropy.io.fits.Header`, optional
        Header holding ``AXCOLSi``/``INTERPi``; default the table's.

    Returns
    -------
    list of `~dl3lab.reduction.axes.MapAxis`
    """
    header = hdu_bands.header if header is None else header
    data = hdu_bands.data
    columns = hdu_bands.columns
    naxes = 0
    while f"AXCOLS{naxes + 1}" in header or f"AXCOLS{naxes + 1}" in hdu_bands.header:
        naxes += 1
    shape = list(shape)[:naxes]
    axes = []
    for i in range(1, naxes + 1):
        source = header if f"AXCOLS{i}" in header else hdu_bands.header
        cols = [c.strip() for c in source[f"AXCOLS{i}"].split(",")]
        interp = str(source.get(f"INTERP{i}", "lin")).strip() or "lin"
        name = _axis_name_from_column(cols[0])
        unit = columns[cols[0]].unit or ""
        arrays = [np.asarray(data[c], dtype=float) for c in cols]
        if len(shape) == naxes:
            # rows are ordered with the first axis fastest: reshape (n_k, ..., n_1)
            reshaped = [a.reshape(tuple(reversed(shape))) for a in arrays]
            index = [0] * naxes
            index[naxes - i] = slice(None)
            values = [r[tuple(index)] for r in reshaped]
        else:
            values = [np.unique(a) for a in arrays]
        if len(cols) == 2:
            lo, hi = values
            nodes = np.append(lo, hi[-1])
            axis = MapAxis(nodes, interp=interp, name=name, node_type="edges", unit=unit)
        else:
            axis = MapAxis(values[0], interp=interp, name=name, node_type="center", unit=unit)
        axes.append(axis)
    return axes
