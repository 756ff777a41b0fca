"""Validated trait specifications edited by widgets: the shared `TraitSpec` base and `OnRegionSpec`."""

import math

import traitlets
from astropy import units as u
from astropy.coordinates import SkyCoord
from regions import CircleSkyRegion

__all__ = ["TraitSpec", "OnRegionSpec"]


class TraitSpec(traitlets.HasTraits):
    """Plain parameters as traits, with dict conversion and grouped updates."""

    #: Name used in error messages.
    label = "spec"

    def to_dict(self):
        """Plain-Python state."""
        return {name: getattr(self, name) for name in self.trait_names()}

    @classmethod
    def from_dict(cls, data):
        """Inverse of :meth:`to_dict`."""
        spec = cls()
        spec.update(data)
        return spec

    def update(self, data):
        """Set several traits at once; cross checks run after all are set.

        Raises
        ------
        KeyError
            For a name that is not a parameter.
        """
        with self.hold_trait_notifications():
            for key, value in dict(data).items():
                if key not in self.trait_names():
                    raise KeyError(f"unknown {self.label} parameter {key!r}")
                setattr(self, key, value)


class OnRegionSpec(TraitSpec):
    """A circular ON region.

    Parameters
    ----------
    lon, lat : float
        Centre (deg) in ``frame``; the latitude within -90 and 90.
    radius : float
        Radius (deg), positive.
    frame : {"icrs", "galactic"}
        Sky frame of the centre.
    """

    label = "ON region"

    lon = traitlets.Float(83.63)
    lat = traitlets.Float(22.01)
    radius = traitlets.Float(0.2)
    frame = traitlets.Enum(["icrs", "galactic"], default_value="icrs")

    #: Accepted range of each number: (lowest, highest, whether the lowest is excluded).
    _ranges = {"lon": (-math.inf, math.inf, True), "lat": (-90.0, 90.0, False), "radius": (0.0, 10.0, True)}

    @traitlets.validate("lon", "lat", "radius")
    def _check_range(self, proposal):
        name, value = proposal["trait"].name, proposal["value"]
        low, high, open_low = self._ranges[name]
        if not (low < value if open_low else low <= value) or not value <= high or not math.isfinite(value):
            bounds = f"{'(' if open_low else '['}{low}, {high}]"
            raise traitlets.TraitError(f"the ON region {name} must be finite and within {bounds} deg, got {value}")
        return value

    @property
    def center(self):
        """Centre as a SkyCoord."""
        return SkyCoord(self.lon, self.lat, unit="deg", frame=self.frame)

    def region(self):
        """The ON region as a `~regions.CircleSkyRegion`."""
        return CircleSkyRegion(center=self.center, radius=self.radius * u.deg)
