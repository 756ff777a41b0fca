"""Pipeline state as plain data and YAML (schema-versioned)."""

from pathlib import Path

import yaml
from astropy import units as u
from astropy.coordinates import SkyCoord

from ..datasets.io.atomic import atomic_paths
from ..errors import DataFormatError

__all__ = ["SCHEMA_VERSION", "pipeline_to_dict", "pipeline_from_dict", "save_state", "load_state"]

SCHEMA_VERSION = 1


def _plain(value):
    if isinstance(value, u.Quantity):
        return f"{value.value:.12g} {value.unit.to_string()}"
    if isinstance(value, SkyCoord):
        return {"lon": float(value.spherical.lon.deg), "lat": float(value.spherical.lat.deg), "frame": value.frame.name}
    return value


def _maker_params(maker, skip=()):
    if maker is None:
        return None
    return {k: _plain(v) for k, v in maker.parameters().items() if k not in skip}


def pipeline_to_dict(pipeline):
    """The pipeline's state: data store, observations, geometry, makers, exclusion regions."""
    return {
        "schema_version": SCHEMA_VERSION,
        "data_store": str(pipeline.data_store.base_dir),
        "obs_ids": list(pipeline.obs_ids),
        "geometry": pipeline.geometry.to_dict(),
        "cutout_width": pipeline.cutout_width,
        "exclusion_regions": [dict(r) for r in pipeline.exclusion_regions],
        "makers": {
            "dataset_maker": _maker_params(pipeline.dataset_maker),
            "safe_mask_maker": _maker_params(pipeline.safe_mask_maker),
            "background_maker": _maker_params(pipeline.background_maker, skip=("exclusion_mask",)),
        },
    }


def _restore(value):
    if isinstance(value, dict) and set(value) == {"lon", "lat", "frame"}:
        return SkyCoord(value["lon"], value["lat"], unit="deg", frame=value["frame"])
    return value


def pipeline_from_dict(cls, data, data_store=None):
    """Rebuild a pipeline from :func:`pipeline_to_dict` output."""
    from ..data import DataStore
    from ..makers import FoVBackgroundMaker, MapDatasetMaker, SafeMaskMaker
    from .geometry_spec import GeometrySpec

    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise DataFormatError(f"pipeline state has schema version {version!r}, expected {SCHEMA_VERSION}")
    makers = data.get("makers", {})

    def build(maker_cls, params):
        return maker_cls(**{k: _restore(v) for k, v in params.items()})

    background = makers.get("background_maker")
    return cls(
        data_store or DataStore.from_dir(data["data_store"]),
        obs_ids=data.get("obs_ids", []),
        geometry=GeometrySpec.from_dict(data.get("geometry", {})),
        dataset_maker=build(MapDatasetMaker, makers.get("dataset_maker") or {}),
        safe_mask_maker=build(SafeMaskMaker, makers.get("safe_mask_maker") or {}),
        background_maker=None if background is None else build(FoVBackgroundMaker, background),
        exclusion_regions=data.get("exclusion_regions", []),
        cutout_width=data.get("cutout_width", 6.0),
    )


def save_state(pipeline, filename, overwrite=False):
    """Write the state as YAML, atomically."""
    text = yaml.safe_dump(pipeline_to_dict(pipeline), sort_keys=False)
    with atomic_paths([filename], overwrite=overwrite) as (tmp,):
        Path(tmp).write_text(text)


def load_state(cls, filename, data_store=None):
    """Read a pipeline from a YAML state file."""
    try:
        data = yaml.safe_load(Path(filename).read_text())
    except yaml.YAMLError as exc:
        raise DataFormatError(f"not a YAML pipeline state: {exc}", filename=filename) from exc
    if not isinstance(data, dict):
        raise DataFormatError("pipeline state must be a mapping", filename=filename)
    return pipeline_from_dict(cls, data, data_store=data_store)
