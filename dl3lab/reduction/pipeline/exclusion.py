"""Exclusion circles of the reactive pipeline: validation and conversion of ``exclusion_regions``.

`ReductionPipeline.exclusion_regions` is a list of plain dicts
``{"lon": deg, "lat": deg, "radius": deg}`` in the geometry frame (plain data, so
the state saves to YAML). `ExclusionCircle` is one such circle as validated traits;
the list helpers return new lists, so that assigning their result to the trait
notifies its observers.
"""

import math

import traitlets
from astropy import units as u
from astropy.coordinates import SkyCoord
from regions import CircleSkyRegion

__all__ = [
    "ExclusionCircle",
    "add_exclusion_circle",
    "exclusion_sky_regions",
    "remove_exclusion_circle",
    "validate_exclusion_regions",
]


class ExclusionCircle(traitlets.HasTraits):
    """A circle (deg) excluded from the background normalisation.

    Parameters
    ----------
    lon : float
        Centre longitude (deg), stored within [0, 360).
    lat : float
        Centre latitude (deg), within -90 and 90.
    radius : float
        Radius (deg), above 0 and at most 180.
    """

    lon = traitlets.Float(0.0)
    lat = traitlets.Float(0.0)
    radius = traitlets.Float(0.3)

    def __init__(self, lon=0.0, lat=0.0, radius=0.3):
        super().__init__(lon=lon, lat=lat, radius=radius)

    def _finite(self, proposal):
        value = proposal["value"]
        if not math.isfinite(value):
            raise traitlets.TraitError(f"exclusion circle {proposal['trait'].name} must be finite, got {value}")
        return value

    @traitlets.validate("lon")
    def _check_lon(self, proposal):
        return self._finite(proposal) % 360.0

    @traitlets.validate("lat")
    def _check_lat(self, proposal):
        value = self._finite(proposal)
        if abs(value) > 90:
            raise traitlets.TraitError(f"exclusion circle latitude must be within -90 and 90 deg, got {value}")
        return value

    @traitlets.validate("radius")
    def _check_radius(self, proposal):
        value = self._finite(proposal)
        if not 0 < value <= 180:
            raise traitlets.TraitError(f"exclusion circle radius must be above 0 and at most 180 deg, got {value}")
        return value

    def to_dict(self):
        """The circle as a ``{"lon", "lat", "radius"}`` dict of floats (deg)."""
        return {"lon": float(self.lon), "lat": float(self.lat), "radius": float(self.radius)}

    @classmethod
    def from_dict(cls, data):
        """Circle from a ``{"lon", "lat", "radius"}`` mapping.

        Raises
        ------
        ValueError
            If a key is missing or extra, a value is not a number, or a value is out of range.
        """
        try:
            keys = set(data)
        except TypeError:
            raise ValueError(f"an exclusion circle must be a mapping with lon, lat and radius, got {data!r}") from None
        if keys != {"lon", "lat", "radius"}:
            raise ValueError(f"an exclusion circle needs exactly the keys lon, lat and radius, got {sorted(keys)}")
        try:
            return cls(**{key: float(data[key]) for key in ("lon", "lat", "radius")})
        except (TypeError, ValueError, traitlets.TraitError) as exc:
            raise ValueError(str(exc)) from None

    @classmethod
    def at(cls, position, radius, frame="icrs"):
        """Circle around a sky position, with its centre expressed in ``frame``.

        Parameters
        ----------
        position : `~astropy.coordinates.SkyCoord`
            Centre, in any frame.
        radius : float or `~astropy.units.Quantity`
            Radius (deg for a float).
        frame : {"icrs", "galactic"}
            Frame of the stored longitude and latitude (the geometry frame).
        """
        spherical = position.transform_to(frame).spherical
        radius = float(u.Quantity(radius, "deg").to_value("deg"))
        try:
            return cls(lon=float(spherical.lon.deg), lat=float(spherical.lat.deg), radius=radius)
        except traitlets.TraitError as exc:
            raise ValueError(str(exc)) from None

    def to_region(self, frame="icrs"):
        """The circle as a `~regions.CircleSkyRegion` with its centre in ``frame``."""
        return CircleSkyRegion(SkyCoord(self.lon, self.lat, unit="deg", frame=frame), self.radius * u.deg)


def _circles(regions):
    circles = []
    for index, region in enumerate(regions):
        try:
            circles.append(ExclusionCircle.from_dict(region))
        except ValueError as exc:
            raise ValueError(f"exclusion region {index + 1}: {exc}") from None
    return circles


def validate_exclusion_regions(regions):
    """A checked copy of an exclusion list (longitudes within [0, 360)).

    Raises
    ------
    ValueError
        Naming the first invalid circle (counted from 1).
    """
    return [circle.to_dict() for circle in _circles(regions)]


def add_exclusion_circle(regions, circle):
    """A new list: ``regions`` followed by ``circle`` (an `ExclusionCircle` or a dict)."""
    if not isinstance(circle, ExclusionCircle):
        circle = ExclusionCircle.from_dict(circle)
    return validate_exclusion_regions(regions) + [circle.to_dict()]


def remove_exclusion_circle(regions, index):
    """A new list without the circle at ``index`` (counted from 0)."""
    regions = [dict(region) for region in regions]
    if not -len(regions) <= index < len(regions):
        raise IndexError(f"no exclusion region at index {index}: there are {len(regions)}")
    del regions[index]
    return regions


def exclusion_sky_regions(regions, frame="icrs"):
    """`~regions.CircleSkyRegion` objects of an exclusion list whose centres are in ``frame``."""
    return [circle.to_region(frame) for circle in _circles(regions)]
