"""The dl3lab reduction engine.

Class names and call signatures mirror Gammapy's ``gammapy.data``, ``gammapy.maps``,
``gammapy.datasets`` and ``gammapy.makers``, so that Gammapy reduction scripts run
with only their imports changed::

    from dl3lab.reduction import DataStore, MapAxis, WcsGeom, MapDataset, MapDatasetMaker

This package never imports a widget library. Names are imported on first use.
"""

import importlib

_EXPORTS = {
    "MapAxes": "axes",
    "MapAxis": "axes",
    "DataStore": "data",
    "EventList": "data",
    "FixedPointingInfo": "data",
    "GTI": "data",
    "Observation": "data",
    "Observations": "data",
    "ObservationFilter": "data",
    "select_observations": "data",
    "Datasets": "datasets",
    "EDispKernelMap": "datasets",
    "EDispMap": "datasets",
    "FoVBackgroundModel": "datasets",
    "MapDataset": "datasets",
    "MapDatasetOnOff": "datasets",
    "SpectrumDataset": "datasets",
    "SpectrumDatasetOnOff": "datasets",
    "PSFMap": "datasets",
    "DataFormatError": "errors",
    "DL3LabError": "errors",
    "MissingDataError": "errors",
    "NoOverlapError": "errors",
    "ReductionError": "errors",
    "IncompatibleRegionError": "errors",
    "UnknownObservationError": "errors",
    "RegionGeom": "geom",
    "WcsGeom": "geom",
    "DatasetsMaker": "makers",
    "FoVBackgroundMaker": "makers",
    "Maker": "makers",
    "MapDatasetMaker": "makers",
    "SafeMaskMaker": "makers",
    "SpectrumDatasetMaker": "makers",
    "ReflectedRegionsBackgroundMaker": "makers",
    "ReflectedRegionsFinder": "makers",
    "WobbleRegionsFinder": "makers",
    "RegionsFinder": "makers",
    "RingBackgroundMaker": "makers",
    "Map": "maps",
    "ExclusionCircle": "pipeline.exclusion",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dl3lab.reduction' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
