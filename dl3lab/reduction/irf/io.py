"""Choosing the IRF class of an HDU and reading all IRFs of a file (spec §1.1)."""

import logging
from pathlib import Path

from astropy.io import fits

from ..errors import DataFormatError, MissingDataError
from .background import Background2D, Background3D
from .core import IRFLocation
from .edisp import EnergyDispersion2D
from .effective_area import EffectiveAreaTable2D
from .psf_parametric import EnergyDependentMultiGaussPSF, PSFKing
from .psf_table import PSF3D
from .rad_max import RadMax2D

__all__ = ["IRF_CLASSES", "HDU_TYPES", "load_irf", "load_irf_dict_from_file", "hdu_type_and_class"]

log = logging.getLogger(__name__)

#: GADF HDU class -> IRF class.
IRF_CLASSES = {
    cls.tag: cls
    for cls in (
        EffectiveAreaTable2D,
        EnergyDispersion2D,
        PSF3D,
        EnergyDependentMultiGaussPSF,
        PSFKing,
        Background3D,
        Background2D,
        RadMax2D,
    )
}

#: Valid GADF HDU types.
HDU_TYPES = ("events", "gti", "aeff", "edisp", "psf", "bkg", "rad_max", "pointing")
_VALID_CLASSES = ("events", "gti", "pointing", *IRF_CLASSES)
_CLAS2_TO_TYPE = {"rpsf": "psf", "eff_area": "aeff"}


def load_irf(hdu, hdu_class, location=None):
    """Read an IRF HDU with the class named by the HDU index's ``HDU_CLASS``.

    Parameters
    ----------
    hdu : `~astropy.io.fits.BinTableHDU`
        The table.
    hdu_class : str
        ``aeff_2d``, ``edisp_2d``, ``psf_table``, ``psf_3gauss``, ``psf_king``,
        ``bkg_3d``, ``bkg_2d`` or ``rad_max_2d`` (case and blanks ignored).
    location : optional
        Observation id, file and HDU for error messages (see `IRFLocation`).

    Raises
    ------
    DataFormatError
        Unknown class, or any problem reading the table.
    """
    key = str(hdu_class).strip().lower()
    cls = IRF_CLASSES.get(key)
    if cls is None:
        loc = IRFLocation.resolve(location, hdu)
        raise DataFormatError(f"unknown IRF HDU class {hdu_class!r} (known: {', '.join(IRF_CLASSES)})", **loc.kwargs())
    return cls.from_table_hdu(hdu, location=location)


def hdu_type_and_class(header):
    """``(hdu_type, hdu_class)`` from ``HDUCLAS2``/``HDUCLAS4``, or None if not recognised.

    ``HDUCLAS2`` gives the type (``RPSF`` -> psf, ``EFF_AREA`` -> aeff); the class
    is ``HDUCLAS4`` lower case, or ``<type>_<HDUCLAS4>`` (CTA 1DC names such as ``3D``).
    """
    clas2 = str(header.get("HDUCLAS2", "")).strip().lower()
    clas4 = str(header.get("HDUCLAS4", "")).strip().lower()
    hdu_type = _CLAS2_TO_TYPE.get(clas2, clas2)
    if hdu_type not in HDU_TYPES:
        return None
    hdu_class = clas4 if clas4 in _VALID_CLASSES else f"{hdu_type}_{clas4}"
    if hdu_class not in _VALID_CLASSES:
        return None
    return hdu_type, hdu_class


def load_irf_dict_from_file(filename):
    """Read every IRF of a single file into ``{hdu_type: irf}`` (spec §1.1 "Single-file reading").

    HDUs with ``HDUCLAS1 = RESPONSE`` are scanned; the first HDU of each type is
    kept. If any of them is point-like and no ``rad_max`` HDU exists, a constant
    `RadMax2D` is built from the aeff ``RAD_MAX`` keyword.

    Raises
    ------
    MissingDataError
        If the file does not exist.
    DataFormatError
        If the file or one of its IRF tables cannot be read.
    """
    path = Path(filename)
    if not path.exists():
        raise MissingDataError("file not found", filename=path)
    try:
        hdulist = fits.open(path, memmap=False)
    except Exception as exc:
        raise DataFormatError(f"not a readable FITS file ({exc})", filename=path) from exc
    irfs = {}
    is_pointlike = False
    with hdulist:
        for hdu in hdulist:
            if str(hdu.header.get("HDUCLAS1", "")).strip().lower() != "response":
                continue
            is_pointlike |= hdu.header.get("HDUCLAS3") == "POINT-LIKE"
            found = hdu_type_and_class(hdu.header)
            if found is None or found[1] not in IRF_CLASSES:
                log.warning(
                    "%s HDU %r: unknown IRF class (HDUCLAS2=%r, HDUCLAS4=%r), skipped",
                    path,
                    hdu.name,
                    hdu.header.get("HDUCLAS2"),
                    hdu.header.get("HDUCLAS4"),
                )
                continue
            hdu_type, hdu_class = found
            if hdu_type in irfs:
                log.warning("%s: more than one %s HDU; keeping %r", path, hdu_type, irfs[hdu_type].meta.get("EXTNAME"))
                continue
            location = IRFLocation(hdu.header.get("OBS_ID"), str(path), hdu.name)
            irfs[hdu_type] = load_irf(hdu, hdu_class, location=location)
    if is_pointlike and "rad_max" not in irfs:
        if "aeff" not in irfs:
            raise DataFormatError("point-like IRFs without RAD_MAX HDU nor effective area", filename=path)
        irfs["rad_max"] = RadMax2D.from_irf(irfs["aeff"])
    return irfs
