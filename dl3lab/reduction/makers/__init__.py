"""Makers: one reduction step each, with validated traits and a ``run`` method."""

from .core import Maker
from .datasets_maker import DatasetsMaker, reduce_observation
from .fov_background_maker import FoVBackgroundMaker
from .map_dataset_maker import MapDatasetMaker
from .safe_mask_maker import SafeMaskMaker

__all__ = [
    "DatasetsMaker",
    "FoVBackgroundMaker",
    "Maker",
    "MapDatasetMaker",
    "SafeMaskMaker",
    "reduce_observation",
]
