"""Map geometries: :class:`WcsGeom` (celestial WCS pixels) and :class:`RegionGeom` (one sky region).

Both carry non-spatial axes (:class:`~dl3lab.reduction.axes.MapAxis`) and give
data shapes ``(..., n_axis2, n_axis1, ny, nx)`` (reduction spec §2).
"""

from .base import Geom
from .coord import MapCoord
from .region import RegionGeom
from .wcs import WcsGeom

__all__ = ["Geom", "MapCoord", "RegionGeom", "WcsGeom"]
