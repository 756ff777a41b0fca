"""`RingBackgroundMaker`: OFF counts and acceptance from a ring around every pixel (spec §7)."""

import math
import warnings

import numpy as np
from scipy.signal import fftconvolve

from ..datasets.map_onoff import MapDatasetOnOff
from ..maps import Map
from .core import Maker
from .mask_projection import project_mask
from .traits import AngleTrait, OptionalInstance

__all__ = ["RingBackgroundMaker", "ring_kernel"]


def _is_mask_map(value):
    return hasattr(value, "geom") and hasattr(value, "data") and np.asarray(value.data).dtype == bool


def ring_kernel(r_in, width):
    """Ring kernel (astropy ``Ring2DKernel`` normalised to its peak) for radii in pixels.

    The kernel has an odd size ``>= 2 (r_in + width)``; a pixel is 1 when the
    squared distance of its centre from the middle lies in ``[r_in^2, (r_in + width)^2]``.
    """
    r_out = r_in + width
    size = math.ceil(2 * r_out)
    size = size + 1 if size % 2 == 0 else size
    half = (size - 1) // 2
    offsets = np.arange(-half, half + 1, dtype=float)
    rr = offsets[None, :] ** 2 + offsets[:, None] ** 2
    return ((rr >= r_in**2) & (rr <= (r_in + width) ** 2)).astype(float)


class RingBackgroundMaker(Maker):
    """Estimate the background of every pixel from a ring around it, outside excluded regions.

    Parameters
    ----------
    r_in : angle
        Inner ring radius (0 or more).
    width : angle
        Ring width (positive).
    exclusion_mask : `~dl3lab.reduction.maps.Map`, optional
        Boolean map, True where the data may be used (2-D or with an energy axis).
        It should cover the dataset geometry; pixels outside it are treated as
        usable, with a warning (Gammapy propagates NaN there).
    """

    tag = "RingBackgroundMaker"

    r_in = AngleTrait(0.0)
    width = AngleTrait(1.0, positive=True)
    exclusion_mask = OptionalInstance(_is_mask_map, "a boolean Map")

    def __init__(self, r_in, width, exclusion_mask=None):
        super().__init__(r_in=r_in, width=width, exclusion_mask=exclusion_mask)

    def kernel(self, geom):
        """Ring kernel array for the pixel size of ``geom``."""
        scale = float(np.ravel(geom.pixel_scales.to_value("deg"))[0])
        r_in = self.r_in.to_value("deg") / scale
        width = self.width.to_value("deg") / scale
        return ring_kernel(r_in, width)

    def _exclusion(self, geom):
        if self.exclusion_mask is None:
            return np.ones(geom.data_shape)
        inside = project_mask(self.exclusion_mask, geom, fill_value=True)
        if not np.array_equal(inside, project_mask(self.exclusion_mask, geom, fill_value=False)):
            warnings.warn(
                "RingBackgroundMaker: the exclusion mask does not cover the dataset geometry; "
                "pixels outside it are treated as usable",
                stacklevel=3,
            )
        return inside.astype(float)

    def make_maps_off(self, dataset):
        """OFF counts and OFF acceptance: the ring-convolved counts and background outside exclusions.

        Returns
        -------
        dict
            ``{"counts_off": Map, "acceptance_off": Map}`` (float32, as in Gammapy).
        """
        if getattr(dataset._geom, "is_region", False):
            raise TypeError("RingBackgroundMaker works on map datasets only, not on region (spectrum) datasets")
        geom = dataset.counts.geom
        exclusion = self._exclusion(geom)
        ring = self.kernel(geom)[None]
        background = dataset.npred_background().data
        maps = {}
        for key, data in (("counts_off", dataset.counts.data), ("acceptance_off", background)):
            convolved = fftconvolve(np.asarray(data, dtype=float) * exclusion, ring, mode="same", axes=(-2, -1))
            maps[key] = Map.from_geom(geom, data=convolved.astype(np.float32), unit="")
        return maps

    def run(self, dataset, observation=None):
        """ON/OFF dataset with ring OFF counts (spec §7).

        ``acceptance`` is the background prediction, ``alpha = acceptance / acceptance_off``;
        bins without OFF acceptance are removed from the safe mask.
        """
        maps = self.make_maps_off(dataset)
        maps["acceptance"] = dataset.npred_background()
        if dataset.mask_safe is not None:
            mask_safe = dataset.mask_safe.copy()
        else:
            mask_safe = Map.from_geom(dataset.counts.geom, data=True)
        mask_safe.data[maps["acceptance_off"].data <= 0] = False
        onoff = MapDatasetOnOff.from_map_dataset(dataset=dataset, name=dataset.name, **maps)
        onoff.mask_safe = mask_safe
        return onoff
