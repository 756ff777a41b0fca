"""Deterministic FITS output of the simulator: the same content always gives the same bytes.

Headers carry no creation date and no checksum, and files are gzipped with a zero
modification time and no file name in the gzip header.
"""

import gzip
import io
import warnings

import numpy as np
from astropy.io import fits
from astropy.table import Table

__all__ = ["GADF_DOC", "events_hdu", "gti_hdu", "index_hdu", "fits_bytes", "gzip_bytes"]

GADF_DOC = "https://github.com/open-gamma-ray-astro/gamma-astro-data-formats"


def _header(cards):
    header = fits.Header()
    for key, value in cards.items():
        if isinstance(value, np.generic):
            value = value.item()
        header[key] = value
    return header


def events_hdu(columns, cards):
    """EVENTS table: ``EVENT_ID``, ``TIME`` (s), ``RA``/``DEC`` (deg), ``ENERGY`` (TeV), ``MC_ID``.

    Parameters
    ----------
    columns : dict of `~numpy.ndarray`
        ``time``, ``ra``, ``dec``, ``energy`` and ``mc_id``, in the order to write.
    cards : dict
        Header keywords.
    """
    n = len(columns["time"])
    cols = [
        fits.Column("EVENT_ID", format="K", array=np.arange(1, n + 1, dtype=np.int64)),
        fits.Column("TIME", format="D", unit="s", array=np.asarray(columns["time"], dtype=np.float64)),
        fits.Column("RA", format="E", unit="deg", array=np.asarray(columns["ra"], dtype=np.float32)),
        fits.Column("DEC", format="E", unit="deg", array=np.asarray(columns["dec"], dtype=np.float32)),
        fits.Column("ENERGY", format="E", unit="TeV", array=np.asarray(columns["energy"], dtype=np.float32)),
        fits.Column("MC_ID", format="J", array=np.asarray(columns["mc_id"], dtype=np.int32)),
    ]
    return fits.BinTableHDU.from_columns(cols, header=_header(cards), name="EVENTS")


def gti_hdu(start, stop, cards):
    """GTI table with ``START`` and ``STOP`` in seconds since the reference time."""
    cols = [
        fits.Column("START", format="D", unit="s", array=np.asarray(start, dtype=np.float64)),
        fits.Column("STOP", format="D", unit="s", array=np.asarray(stop, dtype=np.float64)),
    ]
    return fits.BinTableHDU.from_columns(cols, header=_header(cards), name="GTI")


def index_hdu(rows, cards, name):
    """Index table (``OBS_INDEX`` or ``HDU_INDEX``) from a dict of columns; quantities keep their units."""
    table = Table(rows)
    hdu = fits.table_to_hdu(table)
    for key, value in cards.items():
        hdu.header[key] = value
    hdu.name = name
    return hdu


def fits_bytes(hdus):
    """The bytes of a FITS file made of an empty primary HDU and ``hdus``."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fits.verify.VerifyWarning)
        fits.HDUList([fits.PrimaryHDU(), *hdus]).writeto(buffer, output_verify="silentfix")
    return buffer.getvalue()


def gzip_bytes(data, level=6):
    """Gzip ``data`` reproducibly (modification time 0, no file name)."""
    return gzip.compress(data, compresslevel=level, mtime=0)
