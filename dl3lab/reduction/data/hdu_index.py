"""HDU index: where each HDU of each observation lives (reduction spec §1.1)."""

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataFormatError

__all__ = ["HDULocation", "HDU_TYPES", "build_hdu_locations"]

#: HDU types in the order Gammapy looks them up.
HDU_TYPES = ("events", "gti", "pointing", "aeff", "edisp", "psf", "bkg", "rad_max")

_REQUIRED_COLUMNS = ("OBS_ID", "HDU_TYPE", "HDU_CLASS", "FILE_DIR", "FILE_NAME", "HDU_NAME")


@dataclass(frozen=True)
class HDULocation:
    """Where one HDU of one observation is stored.

    Attributes
    ----------
    obs_id : int
        Observation id.
    hdu_type : str
        GADF HDU type (``events``, ``gti``, ``aeff`` ...).
    hdu_class : str
        GADF HDU class from the index (``aeff_2d``, ``bkg_3d`` ...); it selects the loader.
    path : `~pathlib.Path`
        File path.
    hdu_name : str
        Name of the HDU inside the file.
    """

    obs_id: int
    hdu_type: str
    hdu_class: str
    path: Path
    hdu_name: str

    def describe(self):
        """Short text naming observation, file and HDU, for messages."""
        return f"obs {self.obs_id}, file {self.path}, HDU {self.hdu_name!r}"


def _column_as_str(table, name):
    col = table[name]
    mask = np.ma.getmaskarray(col) if hasattr(col, "mask") else np.zeros(len(col), bool)
    values = [str(v).strip() for v in np.asarray(col).astype(str)]
    return [("" if m else v) for v, m in zip(values, mask)]


def build_hdu_locations(table, base_dir, index_file=None):
    """Group the rows of an HDU index table by observation.

    Parameters
    ----------
    table : `~astropy.table.Table`
        The HDU index.
    base_dir : `~pathlib.Path`
        ``BASE_DIR`` of the data store; file paths are ``base_dir/FILE_DIR/FILE_NAME``
        when that file exists, else ``FILE_DIR/FILE_NAME``.
    index_file : path, optional
        Index file name, for error messages.

    Returns
    -------
    dict
        ``{obs_id: {hdu_type: HDULocation}}``; the first row wins when several match
        (with a warning). An events row also provides the ``pointing`` location.
    """
    missing = [c for c in _REQUIRED_COLUMNS if c not in table.colnames]
    if missing:
        raise DataFormatError(f"HDU index lacks column(s) {missing}", filename=index_file, hdu="HDU_INDEX")
    obs_ids = np.asarray(table["OBS_ID"]).astype(np.int64)
    types = [t.lower() for t in _column_as_str(table, "HDU_TYPE")]
    classes = [c.lower() for c in _column_as_str(table, "HDU_CLASS")]
    dirs = _column_as_str(table, "FILE_DIR")
    names = _column_as_str(table, "FILE_NAME")
    hdus = _column_as_str(table, "HDU_NAME")
    base_dir = Path(base_dir)
    locations = {}
    for obs_id, hdu_type, hdu_class, fdir, fname, hname in zip(obs_ids, types, classes, dirs, names, hdus):
        obs_id = int(obs_id)
        path = base_dir / fdir / fname
        if not path.exists() and Path(fdir, fname).exists():
            path = Path(fdir, fname)
        entry = locations.setdefault(obs_id, {})
        if hdu_type in entry:
            warnings.warn(
                f"obs {obs_id}: several HDU index rows of type {hdu_type!r}; using the first",
                stacklevel=3,
            )
            continue
        loc = HDULocation(obs_id, hdu_type, hdu_class, path, hname)
        entry[hdu_type] = loc
        if hdu_type == "events" and "pointing" not in entry:
            entry["pointing"] = HDULocation(obs_id, "pointing", "pointing", path, hname)
    return locations
