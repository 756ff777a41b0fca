"""Reading and writing GADF IRF tables: the `IRFTableIO` mixin of :class:`~dl3lab.reduction.irf.IRF`.

Every axis is a pair of ``<PREFIX>_LO`` / ``<PREFIX>_HI`` vector columns (spec §1.4)
and the data a multi-dimensional column whose FITS ``TDIM`` lists the axes fastest
first, i.e. the numpy cell of the one-row table is ``data.T``.
"""

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits

from ..axes import MapAxes
from ..errors import DataFormatError, MissingDataError
from .fitsio import (
    check_unit,
    find_column,
    header_to_meta,
    meta_to_header,
    orient_column,
    parse_unit,
    read_axis,
    unit_to_string,
)

__all__ = ["IRFLocation", "IRFTableIO", "AXIS_SPEC", "FOV_ALIGNMENTS"]

#: Allowed values of the ``FOVALIGN`` keyword (``REVERSE_LON_RADEC`` is internal, old HESS files).
FOV_ALIGNMENTS = ("RADEC", "ALTAZ", "REVERSE_LON_RADEC")

#: Axis name -> (column prefixes accepted on read, the first is written; interp; reference unit).
AXIS_SPEC = {
    "energy_true": (("ENERG", "ETRUE"), "log", u.TeV),
    "energy": (("ENERG",), "log", u.TeV),
    "offset": (("THETA",), "lin", u.deg),
    "rad": (("RAD",), "lin", u.deg),
    "fov_lon": (("DETX",), "lin", u.deg),
    "fov_lat": (("DETY",), "lin", u.deg),
    "migra": (("MIGRA",), "lin", u.dimensionless_unscaled),
}


@dataclass(frozen=True)
class IRFLocation:
    """Where an IRF was read from; used to name observation, file and HDU in errors."""

    obs_id: object = None
    filename: object = None
    hdu: object = None

    def kwargs(self):
        """Keyword arguments for :class:`~dl3lab.reduction.errors.DataFormatError`."""
        return {"obs_id": self.obs_id, "filename": self.filename, "hdu": self.hdu}

    @classmethod
    def resolve(cls, location=None, hdu=None):
        """Build a location from None, a dict, an ``HDULocation``-like object or an `IRFLocation`.

        Missing fields are completed from ``hdu`` (its name, its ``OBS_ID`` keyword
        and the file it was read from, when astropy knows it).
        """
        if isinstance(location, cls):
            obs_id, filename, hdu_name = location.obs_id, location.filename, location.hdu
        elif isinstance(location, dict):
            obs_id = location.get("obs_id")
            filename = location.get("filename", location.get("path"))
            hdu_name = location.get("hdu", location.get("hdu_name"))
        elif location is not None:
            obs_id = getattr(location, "obs_id", None)
            filename = getattr(location, "filename", getattr(location, "path", None))
            hdu_name = getattr(location, "hdu", getattr(location, "hdu_name", None))
        else:
            obs_id = filename = hdu_name = None
        if hdu is not None:
            if hdu_name is None:
                hdu_name = getattr(hdu, "name", None) or None
            if obs_id is None:
                obs_id = getattr(hdu, "header", {}).get("OBS_ID")
            if filename is None:
                filename = _hdu_filename(hdu)
        return cls(obs_id, None if filename is None else str(filename), hdu_name)


def _hdu_filename(hdu):
    try:
        info = hdu.fileinfo()
    except Exception:
        return None
    if not info or info.get("file") is None:
        return None
    return getattr(info["file"], "name", None)


class IRFTableIO:
    """GADF table reading and writing for :class:`~dl3lab.reduction.irf.IRF` subclasses."""

    @classmethod
    def from_table_hdu(cls, hdu, location=None):
        """Read from a GADF one-row `~astropy.io.fits.BinTableHDU`.

        Parameters
        ----------
        hdu : `~astropy.io.fits.BinTableHDU`
            The IRF table.
        location : `IRFLocation`, dict or ``HDULocation``, optional
            Observation id, file and HDU name used in error messages.

        Raises
        ------
        DataFormatError
            For any format problem (missing column, bad unit, non-finite or
            unsorted axis values, wrong data size).
        """
        loc = IRFLocation.resolve(location, hdu)

        def fail(message):
            raise DataFormatError(f"{cls.tag}: {message}", **loc.kwargs())

        try:
            if not (hasattr(hdu, "columns") and hasattr(hdu, "data") and hasattr(hdu, "header")):
                fail(f"expected a binary table HDU, got {type(hdu).__name__}")
            if hdu.data is None or len(hdu.data) < 1:
                fail("the IRF table has no rows")
            axes = MapAxes(read_axis(hdu, name, *AXIS_SPEC[name], fail) for name in cls.required_axes)
            data, unit = cls._read_data(hdu, axes, fail)
            meta = header_to_meta(hdu.header)
            fov = str(meta.get("FOVALIGN", "RADEC")).strip()
            if fov not in FOV_ALIGNMENTS:
                fail(f"unknown FOVALIGN {fov!r} (expected one of {FOV_ALIGNMENTS})")
            irf = cls(axes=axes, data=data, unit=unit, meta=meta)
        except DataFormatError:
            raise
        except Exception as exc:
            raise DataFormatError(f"{cls.tag}: cannot read IRF table ({exc})", **loc.kwargs()) from exc
        irf.location = loc
        return irf

    @classmethod
    def _read_data(cls, hdu, axes, fail):
        """Read the data column: returns ``(array, unit)`` in axes order."""
        names = (cls.data_column,) if isinstance(cls.data_column, str) else cls.data_column
        column = find_column(hdu, names)
        if column is None:
            fail(f"missing data column {' or '.join(names)}")
        raw = np.asarray(hdu.data[column][0])
        data = cls._orient(raw, axes, column, fail)
        unit = cls._data_unit(hdu.columns[column].unit, column, fail)
        return data, unit

    @classmethod
    def _orient(cls, raw, axes, column, fail):
        return orient_column(raw, axes, column, fail)

    @classmethod
    def _data_unit(cls, text, column, fail):
        unit, missing = parse_unit(text)
        if missing and cls.default_unit != u.dimensionless_unscaled:
            fail(f"column {column} has no unit (expected {cls.default_unit})")
        check_unit(unit, cls.default_unit, column, fail)
        return unit

    @classmethod
    def read(cls, filename, hdu=None):
        """Read from a FITS file; ``hdu`` defaults to the first HDU of this class.

        Raises
        ------
        MissingDataError
            If the file or the HDU does not exist.
        DataFormatError
            If the file or the table cannot be read.
        """
        path = Path(filename)
        if not path.exists():
            raise MissingDataError("file not found", filename=path, hdu=hdu)
        try:
            hdulist = fits.open(path, memmap=False)
        except Exception as exc:
            raise DataFormatError(f"not a readable FITS file ({exc})", filename=path, hdu=hdu) from exc
        with hdulist:
            if hdu is None:
                hdu = cls._find_hdu(hdulist)
                if hdu is None:
                    raise MissingDataError(f"no {cls.tag} HDU in file", filename=path)
            try:
                table = hdulist[hdu]
            except (KeyError, IndexError):
                raise MissingDataError("HDU not found in file", filename=path, hdu=hdu) from None
            location = IRFLocation(table.header.get("OBS_ID"), str(path), table.name)
            return cls.from_table_hdu(table, location=location)

    @classmethod
    def _find_hdu(cls, hdulist):
        from .io import hdu_type_and_class

        for index, hdu in enumerate(hdulist):
            if str(hdu.header.get("HDUCLAS1", "")).lower() != "response":
                continue
            found = hdu_type_and_class(hdu.header)
            if found is not None and found[1] == cls.tag:
                return index
        if cls.extname and cls.extname in hdulist:
            return cls.extname
        return None

    # --------------------------------------------------------------- writing
    def _data_columns(self):
        """The FITS data column(s)."""
        name = self.data_column if isinstance(self.data_column, str) else self.data_column[0]
        return [_array_column(name, self._data, self._unit)]

    def to_table_hdu(self):
        """GADF `~astropy.io.fits.BinTableHDU` (one row; ``TDIM`` lists the axes fastest first)."""
        columns = []
        for ax in self._axes:
            prefix = AXIS_SPEC[ax.name][0][0]
            values = ax.nodes.to_value(ax.unit)
            if ax.node_type == "edges":
                lo, hi = values[:-1], values[1:]
            else:
                lo, hi = values, values
            unit = unit_to_string(ax.unit)
            for suffix, arr in (("_LO", lo), ("_HI", hi)):
                columns.append(fits.Column(prefix + suffix, format=f"{len(arr)}D", unit=unit, array=arr[None]))
        data_columns = self._data_columns()
        meta = dict(self.meta)
        meta["HDUCLAS3"] = "POINT-LIKE" if self._is_pointlike else "FULL-ENCLOSURE"
        if "FOVALIGN" in meta or self._fov_alignment != "RADEC":
            meta["FOVALIGN"] = self._fov_alignment
        name = meta.pop("EXTNAME", None) or self.extname
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fits.verify.VerifyWarning)
            hdu = fits.BinTableHDU.from_columns(columns + data_columns, header=meta_to_header(meta), name=name)
            cref = ",".join(f"{AXIS_SPEC[ax.name][0][0]}_LO:{AXIS_SPEC[ax.name][0][0]}_HI" for ax in self._axes)
            for offset in range(len(data_columns)):
                hdu.header[f"CREF{len(columns) + offset + 1}"] = f"({cref})"
        return hdu

    def write(self, filename, overwrite=False):
        """Write a FITS file with an empty primary HDU and :meth:`to_table_hdu`."""
        fits.HDUList([fits.PrimaryHDU(), self.to_table_hdu()]).writeto(filename, overwrite=overwrite)


def _array_column(name, data, unit):
    code = "E" if data.dtype == np.float32 else "D"
    data = data.astype(np.float32 if code == "E" else np.float64, copy=False)
    dim = "(" + ",".join(str(n) for n in data.shape) + ")"
    return fits.Column(name, format=f"{data.size}{code}", unit=unit_to_string(unit), dim=dim, array=data.T[np.newaxis])
