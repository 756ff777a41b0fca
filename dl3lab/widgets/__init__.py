"""Interactive views on the reduction engine (ipywidgets, bqplot, ipyaladin).

Widgets link controls to the traits of the objects they show (makers, geometry,
pipeline); validation and computation stay in :mod:`dl3lab.reduction`.
"""

from .controls import TraitControl, controls_for, trait_control
from .makers import GeometryWidget, MakerWidget, OnRegionWidget
from .pipeline import PipelineWidget
from .sky_view import SkyView, use_local_aladin_lite

__all__ = [
    "GeometryWidget",
    "MakerWidget",
    "OnRegionWidget",
    "PipelineWidget",
    "SkyView",
    "TraitControl",
    "controls_for",
    "trait_control",
    "use_local_aladin_lite",
]
