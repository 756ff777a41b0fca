"""Makers: one reduction step each, with validated traits and a ``run`` method."""

from .core import Maker
from .datasets_maker import DatasetsMaker, reduce_observation
from .fov_background_maker import FoVBackgroundMaker
from .map_dataset_maker import MapDatasetMaker
from .reflected_background_maker import ReflectedRegionsBackgroundMaker
from .region_finders import ReflectedRegionsFinder, RegionsFinder, WobbleRegionsFinder
from .ring_background_maker import RingBackgroundMaker
from .safe_mask_maker import SafeMaskMaker
from .spectrum_dataset_maker import SpectrumDatasetMaker

__all__ = [
    "DatasetsMaker",
    "FoVBackgroundMaker",
    "Maker",
    "MapDatasetMaker",
    "ReflectedRegionsBackgroundMaker",
    "ReflectedRegionsFinder",
    "RegionsFinder",
    "RingBackgroundMaker",
    "SafeMaskMaker",
    "SpectrumDatasetMaker",
    "WobbleRegionsFinder",
    "reduce_observation",
]
