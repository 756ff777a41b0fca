"""DL3 instrument response functions: reading, writing and evaluation (reduction spec §0-§1.4)."""

from .background import Background2D, Background3D, BackgroundIRF
from .core import IRF, IRFLocation
from .edisp import EnergyDispersion2D
from .effective_area import EffectiveAreaTable2D
from .io import IRF_CLASSES, load_irf, load_irf_dict_from_file
from .psf_parametric import EnergyDependentMultiGaussPSF, ParametricPSF, PSFKing
from .psf_table import PSF3D
from .rad_max import RadMax2D

__all__ = [
    "IRF",
    "IRFLocation",
    "EffectiveAreaTable2D",
    "EnergyDispersion2D",
    "PSF3D",
    "ParametricPSF",
    "EnergyDependentMultiGaussPSF",
    "PSFKing",
    "BackgroundIRF",
    "Background3D",
    "Background2D",
    "RadMax2D",
    "IRF_CLASSES",
    "load_irf",
    "load_irf_dict_from_file",
]
