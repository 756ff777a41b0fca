"""Binned datasets: `MapDataset`, the IRF maps it carries, and the `Datasets` collection."""

from .background_model import FoVBackgroundModel
from .datasets import Datasets
from .irf_maps import EDispKernelMap, EDispMap, PSFMap
from .map_dataset import BINSZ_IRF_DEFAULT, MIGRA_AXIS_DEFAULT, RAD_AXIS_DEFAULT, MapDataset
from .map_onoff import MapDatasetOnOff
from .spectrum import SpectrumDataset, SpectrumDatasetOnOff

__all__ = [
    "BINSZ_IRF_DEFAULT",
    "Datasets",
    "EDispKernelMap",
    "EDispMap",
    "FoVBackgroundModel",
    "MIGRA_AXIS_DEFAULT",
    "MapDataset",
    "MapDatasetOnOff",
    "PSFMap",
    "RAD_AXIS_DEFAULT",
    "SpectrumDataset",
    "SpectrumDatasetOnOff",
]
