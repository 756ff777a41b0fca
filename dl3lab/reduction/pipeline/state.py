"""Pipeline state as plain data and YAML (schema-versioned, one layout for every chain).

Schema version 2::

    schema_version: 2
    chain: 3d | ring | reflected
    data_store: <directory>
    obs_ids: [...]
    <plain traits of the chain>: cutout_width, exclusion_regions, ring_mode, ...
    <specs of the chain>: geometry: {...}, on_region: {...}
    makers: {<maker trait>: {<parameter>: <value>} or null}

Quantities are written as ``"<value> <unit>"`` strings with the shortest exact
float text, sky positions as ``{lon, lat, frame}``, region finders as their
parameters plus ``class``. Exclusion masks set directly on makers are not saved:
the pipeline's ``exclusion_regions`` are. Version 1 files (the 3-D chain only,
without ``chain``) are still read.
"""

from pathlib import Path

import traitlets
import yaml
from astropy import units as u
from astropy.coordinates import SkyCoord

from ..datasets.io.atomic import atomic_paths
from ..errors import DataFormatError
from .specs import TraitSpec

__all__ = [
    "SCHEMA_VERSION",
    "READABLE_VERSIONS",
    "pipeline_classes",
    "pipeline_to_dict",
    "pipeline_from_dict",
    "save_state",
    "load_state",
    "load_pipeline",
]

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
_FINDERS = ("ReflectedRegionsFinder", "WobbleRegionsFinder")


def pipeline_classes():
    """Chain name -> pipeline class."""
    from .pipeline import ReductionPipeline
    from .ring import RingReductionPipeline
    from .spectrum import SpectrumReductionPipeline

    return {cls.chain: cls for cls in (ReductionPipeline, RingReductionPipeline, SpectrumReductionPipeline)}


def _plain(value):
    if isinstance(value, u.Quantity):
        return f"{float(value.value)!r} {value.unit.to_string()}"
    if isinstance(value, SkyCoord):
        return {"lon": float(value.spherical.lon.deg), "lat": float(value.spherical.lat.deg), "frame": value.frame.name}
    if isinstance(value, traitlets.HasTraits):  # a region finder
        params = {name: _plain(getattr(value, name)) for name in value.trait_names()}
        return {"class": type(value).__name__, **params}
    return value


def _maker_params(maker, skip=("exclusion_mask",)):
    if maker is None:
        return None
    return {k: _plain(v) for k, v in maker.parameters().items() if k not in skip}


def pipeline_to_dict(pipeline):
    """The pipeline's state: chain, data store, observations, plain traits, specs and makers."""
    data = {
        "schema_version": SCHEMA_VERSION,
        "chain": pipeline.chain,
        "data_store": str(pipeline.data_store.base_dir),
        "obs_ids": list(pipeline.obs_ids),
    }
    for name in pipeline._plain:
        value = getattr(pipeline, name)
        data[name] = [dict(r) for r in value] if name == "exclusion_regions" else value
    makers = {}
    for name, obj in pipeline.components.items():
        if isinstance(obj, TraitSpec):
            data[name] = obj.to_dict()
        else:
            makers[name] = _maker_params(obj)
    data["makers"] = makers
    return data


def _restore(value):
    if isinstance(value, dict) and set(value) == {"lon", "lat", "frame"}:
        return SkyCoord(value["lon"], value["lat"], unit="deg", frame=value["frame"])
    if isinstance(value, dict) and "class" in value:
        from .. import makers

        params = dict(value)
        name = params.pop("class")
        if name not in _FINDERS:
            raise DataFormatError(f"pipeline state names an unknown region finder {name!r}; known: {list(_FINDERS)}")
        return getattr(makers, name)(**params)
    return value


def _chain_class(data, cls):
    version = data.get("schema_version")
    if version not in READABLE_VERSIONS:
        raise DataFormatError(
            f"pipeline state has schema version {version!r}; this dl3lab reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}"
        )
    chain = data.get("chain", "3d" if version == 1 else None)
    classes = pipeline_classes()
    if chain not in classes:
        raise DataFormatError(f"pipeline state has unknown chain {chain!r}; known chains: {', '.join(classes)}")
    target = classes[chain]
    if cls is not None and not issubclass(target, cls):
        raise DataFormatError(
            f"pipeline state holds a {chain!r} chain: load it with {target.__name__}.load or load_pipeline, "
            f"not {cls.__name__}"
        )
    return target


def pipeline_from_dict(data, data_store=None, cls=None):
    """Rebuild a pipeline from :func:`pipeline_to_dict` output.

    Parameters
    ----------
    data : dict
        The state.
    data_store : `~dl3lab.reduction.DataStore`, optional
        Use this store instead of opening ``data["data_store"]``.
    cls : type, optional
        Require a chain whose class is ``cls`` or a subclass of it.

    Raises
    ------
    DataFormatError
        For an unknown schema version, chain or region finder, or a chain of another class.
    """
    from ..data import DataStore

    target = _chain_class(data, cls)
    traits = target.class_traits()
    kwargs = {name: data[name] for name in target._plain if name in data}
    makers = data.get("makers") or {}
    for name in target._components:
        klass = traits[name].klass
        if issubclass(klass, TraitSpec):
            kwargs[name] = klass.from_dict(data.get(name) or {})
        elif name in makers:
            params = makers[name]
            kwargs[name] = None if params is None else klass(**{k: _restore(v) for k, v in params.items()})
    store = data_store or DataStore.from_dir(data["data_store"])
    return target(store, obs_ids=data.get("obs_ids", []), **kwargs)


def save_state(pipeline, filename, overwrite=False):
    """Write the state as YAML, atomically."""
    text = yaml.safe_dump(pipeline_to_dict(pipeline), sort_keys=False)
    with atomic_paths([filename], overwrite=overwrite) as (tmp,):
        Path(tmp).write_text(text)


def load_state(filename, data_store=None, cls=None):
    """Read a pipeline from a YAML state file (any chain, or only ``cls`` and its subclasses)."""
    try:
        data = yaml.safe_load(Path(filename).read_text())
    except yaml.YAMLError as exc:
        raise DataFormatError(f"not a YAML pipeline state: {exc}", filename=filename) from exc
    if not isinstance(data, dict):
        raise DataFormatError("pipeline state must be a mapping", filename=filename)
    try:
        return pipeline_from_dict(data, data_store=data_store, cls=cls)
    except DataFormatError as exc:
        if getattr(exc, "filename", None) is None:
            raise DataFormatError(exc.reason, filename=filename) from exc
        raise


def load_pipeline(filename, data_store=None):
    """Pipeline of whatever chain a YAML state file holds."""
    return load_state(filename, data_store=data_store)
