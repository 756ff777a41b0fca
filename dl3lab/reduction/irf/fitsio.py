"""Low-level helpers to read and write GADF IRF tables (spec §1.4).

Every reader helper takes a ``fail(message)`` callable that raises the
:class:`~dl3lab.reduction.errors.DataFormatError` of the caller, so the messages
name the observation, the file and the HDU.
"""

import functools
import re

import numpy as np
from astropy import units as u
from astropy.io import fits

from ..axes import MapAxis

__all__ = [
    "find_column",
    "parse_unit",
    "check_unit",
    "unit_to_string",
    "read_axis",
    "orient_column",
    "header_to_meta",
    "meta_to_header",
    "is_structural_keyword",
]

_STRUCTURAL = re.compile(
    r"^(XTENSION|BITPIX|NAXIS\d*|PCOUNT|GCOUNT|TFIELDS|THEAP|CHECKSUM|DATASUM|COMMENT|HISTORY|"
    r"T(TYPE|FORM|UNIT|DIM|NULL|SCAL|ZERO|DISP|DMIN|DMAX|LMIN|LMAX)\d+|CREF\d+|)$"
)


def is_structural_keyword(key):
    """Whether a header keyword describes the table layout rather than the IRF (not kept in meta)."""
    return bool(_STRUCTURAL.match(key))


def find_column(hdu, names):
    """Actual name of the first column of ``hdu`` matching one of ``names`` (case-insensitive), or None."""
    available = {name.upper(): name for name in hdu.columns.names}
    for name in names:
        if name.upper() in available:
            return available[name.upper()]
    return None


def parse_unit(text):
    """Parse a ``TUNIT`` string.

    Returns
    -------
    unit : `~astropy.units.UnitBase`
        The unit (dimensionless if missing; an ``UnrecognizedUnit`` if unparsable).
    missing : bool
        Whether no unit was given.
    """
    if text is None or not str(text).strip():
        return u.dimensionless_unscaled, True
    return _unit_from_string(str(text).strip()), False


@functools.lru_cache(maxsize=256)
def _unit_from_string(text):
    return u.Unit(text, parse_strict="silent")


def check_unit(unit, reference, column, fail):
    """Fail unless ``unit`` is a recognised unit equivalent to ``reference``."""
    if isinstance(unit, u.UnrecognizedUnit):
        fail(f"column {column} has an unrecognised unit {unit.to_string()!r}")
    if not unit.is_equivalent(reference):
        fail(f"column {column} has unit {unit.to_string()!r}, which is not convertible to {reference}")


def unit_to_string(unit):
    """``TUNIT`` text of a unit (None for dimensionless)."""
    unit = u.Unit(unit)
    if unit == u.dimensionless_unscaled:
        return None
    try:
        return unit.to_string("fits")
    except ValueError:
        return unit.to_string()


def _vector(hdu, column, fail):
    try:
        values = np.asarray(hdu.data[column][0], dtype=float)
    except (TypeError, ValueError) as exc:
        fail(f"column {column} is not numeric ({exc})")
    return np.atleast_1d(values).ravel()


def read_axis(hdu, name, prefixes, interp, reference, fail):
    """Read one axis from its ``<PREFIX>_LO`` / ``<PREFIX>_HI`` columns (first row).

    Equal ``LO`` and ``HI`` give a node (centre) axis, otherwise the edges are
    ``LO`` plus the last ``HI`` (:meth:`MapAxis.from_gadf_columns`).
    """
    for prefix in prefixes:
        lo_col = find_column(hdu, (f"{prefix}_LO",))
        hi_col = find_column(hdu, (f"{prefix}_HI",))
        if lo_col is not None and hi_col is not None:
            break
    else:
        fail(f"missing columns {prefixes[0]}_LO/{prefixes[0]}_HI for axis {name!r}")
    lo = _vector(hdu, lo_col, fail)
    hi = _vector(hdu, hi_col, fail)
    unit, missing = parse_unit(hdu.columns[lo_col].unit)
    if missing and reference != u.dimensionless_unscaled:
        fail(f"column {lo_col} has no unit (axis {name!r} needs a unit convertible to {reference})")
    check_unit(unit, reference, lo_col, fail)
    hi_unit, hi_missing = parse_unit(hdu.columns[hi_col].unit)
    if not hi_missing and hi_unit != unit:
        check_unit(hi_unit, unit, hi_col, fail)
        hi = (hi * hi_unit).to_value(unit)
    if lo.size == 0 or lo.shape != hi.shape:
        fail(f"columns {lo_col} and {hi_col} must be non-empty and of equal length")
    for column, values in ((lo_col, lo), (hi_col, hi)):
        if not np.all(np.isfinite(values)):
            fail(f"column {column} contains non-finite values")
    try:
        return MapAxis.from_gadf_columns(lo, hi, name=name, interp=interp, unit=unit)
    except ValueError as exc:
        fail(f"invalid axis {name!r} from columns {lo_col}/{hi_col}: {exc}")


def orient_column(raw, axes, column, fail):
    """Data array in axes order from a column cell (numpy cell = data transposed; spec §1.4)."""
    shape = axes.shape
    size = int(np.prod(shape))
    if raw.size != size:
        fail(f"column {column} holds {raw.size} values, but axes {axes.names} of shape {shape} need {size}")
    if raw.ndim != len(shape):
        return raw.reshape(shape[::-1]).T
    data = raw.T
    if data.shape != shape:
        fail(f"column {column} has TDIM {raw.shape[::-1]}, expected {shape} for axes {axes.names}")
    return data


def header_to_meta(header):
    """Header keywords that describe the IRF (layout keywords, COMMENT and HISTORY dropped)."""
    meta = {}
    for key, value in header.items():
        if is_structural_keyword(key) or isinstance(value, fits.card.Undefined):
            continue
        meta[key] = value
    return meta


def meta_to_header(meta):
    """`~astropy.io.fits.Header` from a meta dict (layout keywords and None values skipped)."""
    header = fits.Header()
    for key, value in meta.items():
        if value is None or is_structural_keyword(key):
            continue
        if isinstance(value, u.Quantity):
            value = value.value
        if isinstance(value, np.generic):
            value = value.item()
        if not isinstance(value, (str, bool, int, float, complex)):
            value = str(value)
        header[key] = value
    return header
