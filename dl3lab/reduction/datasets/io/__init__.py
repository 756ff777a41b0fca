"""Reading and writing datasets: gadf FITS files, OGIP spectra and the `Datasets` YAML index."""

from .atomic import atomic_paths, check_writable
from .gadf import dataset_from_hdulist, dataset_to_hdulist, read_dataset, write_dataset

__all__ = [
    "atomic_paths",
    "check_writable",
    "dataset_from_hdulist",
    "dataset_to_hdulist",
    "read_dataset",
    "write_dataset",
]
