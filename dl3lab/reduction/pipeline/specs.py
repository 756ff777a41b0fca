"""Validated trait specifications edited by widgets: the shared `TraitSpec` base and `OnRegionSpec`."""

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
        Centre (deg) in ``frame``.
    radius : float
        Radius (deg), positive.
    frame : {"icrs", "galactic"}
        Sky frame of the centre.
    """

    label = "ON region"

    lon = traitlets.Float(83.63)
    lat = traitlets.Float(22.01, min=-90.0, max=90.0)
    radius = traitlets.Float(0.2)
    frame = traitlets.Enum(["icrs", "galactic"], default_value="icrs")

    @traitlets.validate("radius")
    def _check_radius(self, proposal):
        value = proposal["value"]
        if not 0 < value <= 10:
            raise traitlets.TraitError(f"the ON region radius must be in (0, 10] deg, got {value}")
        return value

    @property
    def center(self):
        """Centre as a SkyCoord."""
        return SkyCoord(self.lon, self.lat, unit="deg", frame=self.frame)

    def region(self):
        """The ON region as a `~regions.CircleSkyRegion`."""
        return CircleSkyRegion(center=self.center, radius=self.radius * u.deg)
