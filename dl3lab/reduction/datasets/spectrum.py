"""1-D spectral datasets: `SpectrumDataset` and `SpectrumDatasetOnOff` (maps on a `RegionGeom`, spec §3, §8.4)."""

from .map_dataset import MapDataset
from .map_onoff import MapDatasetOnOff

__all__ = ["SpectrumDataset", "SpectrumDatasetOnOff"]


def _require_region(geom):
    if not getattr(geom, "is_region", False):
        raise TypeError(f"a spectrum dataset needs a RegionGeom, got {type(geom).__name__}")


class SpectrumDataset(MapDataset):
    """Counts, exposure, background and energy dispersion in one sky region (a `MapDataset` on a `RegionGeom`).

    Uses the Cash statistic. See `MapDataset` for the parameters; a spectrum
    dataset has no PSF.
    """

    tag = "SpectrumDataset"

    @classmethod
    def create(
        cls,
        geom,
        energy_axis_true=None,
        migra_axis=None,
        reference_time="2000-01-01",
        name=None,
        meta_table=None,
        **kwargs,
    ):
        """Empty spectrum dataset on a region geometry (spec §3, with ``psf = None``).

        Parameters
        ----------
        geom : `~dl3lab.reduction.geom.RegionGeom`
            Region geometry with a reco ``energy`` axis.
        energy_axis_true : `~dl3lab.reduction.axes.MapAxis`, optional
            True-energy axis of the exposure and energy dispersion (default: the reco axis renamed).
        migra_axis : `~dl3lab.reduction.axes.MapAxis`, optional
            Use an `EDispMap` on this migration axis instead of a kernel.
        reference_time : str or `~astropy.time.Time`
            GTI reference time.
        name : str, optional
            Dataset name (random if not given).
        meta_table : `~astropy.table.Table`, optional
            Observation table.

        Raises
        ------
        TypeError
            If ``geom`` is not a `RegionGeom`.
        """
        _require_region(geom)
        dataset = super().create(
            geom,
            energy_axis_true=energy_axis_true,
            migra_axis=migra_axis,
            reference_time=reference_time,
            name=name,
            meta_table=meta_table,
            **kwargs,
        )
        dataset.psf = None
        return dataset

    def cutout(self, *args, **kwargs):
        """Not supported: a spectrum dataset has a single spatial bin."""
        raise NotImplementedError("cutout is not supported on a spectrum dataset")


class SpectrumDatasetOnOff(MapDatasetOnOff):
    """ON and OFF count spectra with acceptances, exposure and energy dispersion (WStat statistic).

    See `MapDatasetOnOff` for the parameters. ``off_regions`` lists the OFF sky
    regions that produced ``counts_off`` (the reflected-regions maker fills it),
    and ``meta["no_off_regions"]`` is True when none was found.
    """

    tag = "SpectrumDatasetOnOff"

    def __init__(self, *args, off_regions=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.off_regions = list(off_regions or [])

    @classmethod
    def _empty_base(cls, geom, **kwargs):
        _require_region(geom)
        return SpectrumDataset.create(geom, **kwargs)

    @classmethod
    def from_spectrum_dataset(cls, dataset, acceptance, acceptance_off, counts_off=None, name=None):
        """ON/OFF spectrum from a `SpectrumDataset` and the OFF measurement.

        Parameters
        ----------
        dataset : `SpectrumDataset`
            Dataset providing counts, exposure, energy dispersion, masks, GTI and meta table.
        acceptance, acceptance_off : `~dl3lab.reduction.maps.Map` or float
            Relative background efficiency of the ON and OFF measurements.
        counts_off : `~dl3lab.reduction.maps.Map`, optional
            OFF counts; when omitted and ``dataset`` has a background, ``npred_background / alpha``.
        name : str, optional
            Name of the new dataset (random if not given).
        """
        _require_region(dataset._geom)
        return cls.from_map_dataset(
            dataset, acceptance=acceptance, acceptance_off=acceptance_off, counts_off=counts_off, name=name
        )

    def to_spectrum_dataset(self, name=None):
        """`SpectrumDataset` whose background is ``alpha * counts_off``."""
        dataset = self.to_map_dataset(name=name)
        return SpectrumDataset(**{key: getattr(dataset, key) for key in _DATASET_KEYS}, name=dataset.name)

    def stack(self, other, nan_to_num=True):
        """Add ``other`` into this dataset, in place; the OFF region lists are concatenated."""
        super().stack(other, nan_to_num=nan_to_num)
        self.off_regions = list(self.off_regions) + list(getattr(other, "off_regions", []))

    def cutout(self, *args, **kwargs):
        """Not supported: a spectrum dataset has a single spatial bin."""
        raise NotImplementedError("cutout is not supported on a spectrum dataset")


_DATASET_KEYS = (
    "counts",
    "exposure",
    "background",
    "psf",
    "edisp",
    "mask_safe",
    "mask_fit",
    "gti",
    "meta_table",
    "meta",
)
