"""Exceptions raised by :mod:`dl3lab.reduction`.

Every error that is caused by the input data derives from :class:`DL3LabError`,
so a caller can catch one class. Messages name the observation, the file and
the HDU whenever they are known.
"""

__all__ = [
    "DL3LabError",
    "DataFormatError",
    "MissingDataError",
    "UnknownObservationError",
    "NoOverlapError",
    "ReductionError",
    "IncompatibleRegionError",
    "DownloadError",
    "DatasetTooLargeError",
]


class DL3LabError(Exception):
    """Base class of every dl3lab data error."""


def describe_location(obs_id=None, filename=None, hdu=None):
    """Return a short "where" text such as ``obs 23592, file x.fits.gz, HDU 'AEFF'``."""
    parts = []
    if obs_id is not None:
        parts.append(f"obs {obs_id}")
    if filename is not None:
        parts.append(f"file {filename}")
    if hdu is not None:
        parts.append(f"HDU {hdu!r}")
    return ", ".join(parts)


class _LocatedError(DL3LabError):
    """An error that knows which observation, file and HDU it is about."""

    def __init__(self, message, obs_id=None, filename=None, hdu=None):
        self.obs_id = obs_id
        self.filename = None if filename is None else str(filename)
        self.hdu = hdu
        self.reason = message
        where = describe_location(obs_id, self.filename, hdu)
        super().__init__(f"{message} ({where})" if where else message)


class DataFormatError(_LocatedError, ValueError):
    """A file exists but its content is unreadable or does not follow GADF.

    Raised for corrupt or truncated FITS files, missing columns, unknown
    ``HDU_CLASS`` values, wrong units and non-finite axis values.
    """


class MissingDataError(_LocatedError, LookupError):
    """A file or an HDU that the index promises is missing."""


class UnknownObservationError(DL3LabError, KeyError):
    """An observation id is not in the data store."""

    def __init__(self, obs_id, base_dir=None):
        self.obs_id = obs_id
        where = f" in data store {base_dir}" if base_dir is not None else ""
        super().__init__(f"Observation {obs_id} not found{where}")

    def __str__(self):
        return self.args[0]


class NoOverlapError(DL3LabError, ValueError):
    """A cutout or an observation does not overlap the requested geometry."""


class IncompatibleRegionError(_LocatedError, ValueError):
    """An ON region (or a requested correction) that the observation's IRFs cannot serve.

    Raised, for example, for a circular ON region whose radius differs from a fixed
    point-like ``RAD_MAX``, or for a containment correction with point-like IRFs.
    """


class ReductionError(_LocatedError, RuntimeError):
    """Reducing one observation failed; carries the obs id and the traceback text."""

    def __init__(self, message, obs_id=None, filename=None, hdu=None, traceback=None):
        super().__init__(message, obs_id=obs_id, filename=filename, hdu=hdu)
        self.traceback = traceback


class DownloadError(DL3LabError, OSError):
    """Fetching or verifying an example-data file failed; the message names the file and the URL."""


class DatasetTooLargeError(DL3LabError, MemoryError):
    """A dataset would need more memory than the configured limit; nothing was allocated."""
