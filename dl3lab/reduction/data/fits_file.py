"""Open a DL3 FITS file once and hand out its HDUs with clear errors."""

import warnings

from astropy.io import fits
from astropy.utils.exceptions import AstropyUserWarning

from ..errors import DataFormatError, MissingDataError

__all__ = ["FitsFileCache"]


class FitsFileCache:
    """Keeps each file of one observation open until every HDU needed from it is read.

    A GADF run file holds all HDUs of the run in one gzip stream, so opening it
    once and reading each HDU once is what makes loading cheap.
    """

    def __init__(self):
        self._open = {}

    def get_hdu(self, location):
        """The HDU at ``location`` (a `HDULocation`), with its data loaded into memory."""
        hdulist = self._hdulist(location)
        try:
            hdu = hdulist[location.hdu_name]
        except KeyError:
            raise MissingDataError(
                "HDU not found in file", obs_id=location.obs_id, filename=location.path, hdu=location.hdu_name
            ) from None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", AstropyUserWarning)
                hdu.data  # noqa: B018  (forces reading, so truncation is detected here)
                hdu.header  # noqa: B018
        except Exception as exc:
            raise DataFormatError(
                f"cannot read HDU data: {exc}", obs_id=location.obs_id, filename=location.path,
                hdu=location.hdu_name,
            ) from exc
        return hdu

    def _hdulist(self, location):
        key = str(location.path)
        if key in self._open:
            return self._open[key]
        if not location.path.exists():
            raise MissingDataError(
                "file listed in the HDU index does not exist",
                obs_id=location.obs_id, filename=location.path, hdu=location.hdu_name,
            )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", AstropyUserWarning)
                hdulist = fits.open(location.path, memmap=False, lazy_load_hdus=False)
        except Exception as exc:
            raise DataFormatError(
                f"not a readable FITS file ({type(exc).__name__}: {exc})",
                obs_id=location.obs_id, filename=location.path, hdu=location.hdu_name,
            ) from exc
        self._open[key] = hdulist
        return hdulist

    def close(self, path=None):
        """Close one file, or all of them."""
        keys = [str(path)] if path is not None else list(self._open)
        for key in keys:
            hdulist = self._open.pop(key, None)
            if hdulist is not None:
                hdulist.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass
