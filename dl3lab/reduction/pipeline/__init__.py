"""The reactive reduction pipeline: cached per-observation stages invalidated by trait changes."""

from .geometry_spec import GeometrySpec
from .pipeline import STAGES, ReductionPipeline

__all__ = ["GeometrySpec", "ReductionPipeline", "STAGES"]
