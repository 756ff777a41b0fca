"""The reactive reduction pipelines: cached per-observation stages invalidated by trait changes.

Three chains share the caching machinery of `ChainPipeline`:

- `ReductionPipeline` (``"3d"``): maps, safe mask, FoV background, stacked `MapDataset`;
- `RingReductionPipeline` (``"ring"``): the same, then a ring background, stacked `MapDatasetOnOff`;
- `SpectrumReductionPipeline` (``"reflected"``): ON-region spectra, reflected OFF regions,
  safe mask, stacked `SpectrumDatasetOnOff`.

`make_pipeline` builds one by chain name and `load_pipeline` reads any chain from YAML.
"""

from .base import ChainPipeline
from .geometry_spec import GeometrySpec
from .pipeline import STAGES, ReductionPipeline
from .ring import RING_STAGES, RingReductionPipeline
from .specs import OnRegionSpec, TraitSpec
from .spectrum import SPECTRUM_STAGES, SpectrumReductionPipeline
from .state import load_pipeline, pipeline_classes
from .summaries import onoff_images, onoff_spectrum

__all__ = [
    "ChainPipeline",
    "GeometrySpec",
    "OnRegionSpec",
    "RING_STAGES",
    "ReductionPipeline",
    "RingReductionPipeline",
    "SPECTRUM_STAGES",
    "STAGES",
    "SpectrumReductionPipeline",
    "TraitSpec",
    "load_pipeline",
    "make_pipeline",
    "onoff_images",
    "onoff_spectrum",
    "pipeline_classes",
]


def make_pipeline(chain, data_store, obs_ids=(), **kwargs):
    """A pipeline of the named chain (``"3d"``, ``"ring"`` or ``"reflected"``).

    Raises
    ------
    ValueError
        For an unknown chain name.
    """
    classes = pipeline_classes()
    if chain not in classes:
        raise ValueError(f"unknown pipeline chain {chain!r}; choose from {', '.join(classes)}")
    return classes[chain](data_store, obs_ids, **kwargs)
