"""`GeometrySpec`: the analysis geometry as validated traits (the state a geometry widget edits)."""

import numpy as np
import traitlets
from astropy import units as u
from astropy.coordinates import SkyCoord

from ..axes import MapAxis
from ..geom import WcsGeom
from .specs import TraitSpec

__all__ = ["GeometrySpec"]

_PROJECTIONS = ("CAR", "TAN", "SIN", "AIT", "MOL", "ARC", "ZEA")


class GeometrySpec(TraitSpec):
    """Sky and energy binning of a 3-D analysis.

    Parameters
    ----------
    lon, lat : float
        Map centre (deg) in ``frame``.
    frame : {"icrs", "galactic"}
        Sky frame.
    width : float
        Map width (deg), square.
    binsz : float
        Pixel size (deg).
    proj : str
        WCS projection code.
    energy_min, energy_max : float
        Reco energy range (TeV); ``energy_nbin`` log bins.
    energy_true_min, energy_true_max : float
        True energy range (TeV); ``energy_true_nbin`` log bins.
    binsz_irf : float
        Pixel size of the PSF and EDisp maps (deg).
    """

    lon = traitlets.Float(83.63)
    lat = traitlets.Float(22.01, min=-90.0, max=90.0)
    frame = traitlets.Enum(["icrs", "galactic"], default_value="icrs")
    width = traitlets.Float(5.0, min=1e-3, max=360.0)
    binsz = traitlets.Float(0.02, min=1e-4, max=10.0)
    proj = traitlets.Enum(list(_PROJECTIONS), default_value="CAR")
    energy_min = traitlets.Float(1.0, min=1e-4)
    energy_max = traitlets.Float(10.0, min=1e-4)
    energy_nbin = traitlets.Int(11, min=1, max=1000)
    energy_true_min = traitlets.Float(0.3, min=1e-4)
    energy_true_max = traitlets.Float(20.0, min=1e-4)
    energy_true_nbin = traitlets.Int(20, min=1, max=1000)
    binsz_irf = traitlets.Float(0.2, min=1e-3, max=10.0)

    label = "geometry"

    #: Traits defining the sky part (the others define the energy axes, and ``binsz_irf`` the IRF maps).
    sky_traits = ("lon", "lat", "frame", "width", "binsz", "proj")

    @traitlets.validate("energy_max")
    def _check_energy_max(self, proposal):
        if proposal["value"] <= self.energy_min:
            raise traitlets.TraitError(f"energy_max ({proposal['value']}) must exceed energy_min ({self.energy_min})")
        return proposal["value"]

    @traitlets.validate("energy_min")
    def _check_energy_min(self, proposal):
        if proposal["value"] >= self.energy_max:
            raise traitlets.TraitError(f"energy_min ({proposal['value']}) must be below energy_max ({self.energy_max})")
        return proposal["value"]

    @traitlets.validate("energy_true_max")
    def _check_energy_true_max(self, proposal):
        if proposal["value"] <= self.energy_true_min:
            raise traitlets.TraitError("energy_true_max must exceed energy_true_min")
        return proposal["value"]

    @traitlets.validate("energy_true_min")
    def _check_energy_true_min(self, proposal):
        if proposal["value"] >= self.energy_true_max:
            raise traitlets.TraitError("energy_true_min must be below energy_true_max")
        return proposal["value"]

    @property
    def center(self):
        """Map centre as a SkyCoord."""
        return SkyCoord(self.lon, self.lat, unit="deg", frame=self.frame)

    def energy_axis(self):
        """Reco energy axis."""
        return MapAxis.from_energy_bounds(self.energy_min, self.energy_max, self.energy_nbin, unit="TeV")

    def energy_axis_true(self):
        """True energy axis."""
        return MapAxis.from_energy_bounds(
            self.energy_true_min, self.energy_true_max, self.energy_true_nbin, unit="TeV", name="energy_true"
        )

    def make_geom(self):
        """The counts geometry."""
        return WcsGeom.create(
            skydir=(self.lon, self.lat), frame=self.frame, width=self.width, binsz=self.binsz, proj=self.proj,
            axes=[self.energy_axis()],
        )

    def make_dataset(self, name=None):
        """An empty `MapDataset` on this geometry."""
        from ..datasets import MapDataset

        return MapDataset.create(
            self.make_geom(), energy_axis_true=self.energy_axis_true(), binsz_irf=self.binsz_irf * u.deg, name=name
        )

    @property
    def npix(self):
        """Pixels per side."""
        return int(np.rint(self.width / self.binsz))

    def dataset_nbytes(self):
        """Memory of one dataset on this geometry, in bytes (counts, background, mask, exposure,
        PSF and EDisp maps), computed before anything is allocated."""
        from ..datasets.memory import map_dataset_nbytes

        return map_dataset_nbytes(self.make_geom(), self.energy_axis_true(), binsz_irf=self.binsz_irf * u.deg)["total"]
