"""Maps: data arrays on a geometry (:class:`WcsNDMap` for WCS pixels, :class:`RegionNDMap` for a region).

:meth:`Map.from_geom` picks the class from the geometry; both share the
:class:`Map` API (interpolation, histogramming, reductions, arithmetic, gadf
FITS I/O).
"""

from .core import Map
from .regionmap import RegionNDMap
from .wcsmap import WcsNDMap

__all__ = ["Map", "RegionNDMap", "WcsNDMap"]
