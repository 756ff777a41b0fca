"""Simulated DL3 data: H.E.S.S.-like parametrised IRFs, Poisson-sampled events, complete GADF data stores.

Example
-------
>>> from dl3lab.reduction.simulate import simulate_data_store
>>> result = simulate_data_store("sim-store", n_obs=4, seed=1)  # doctest: +SKIP
>>> from dl3lab.reduction import DataStore
>>> DataStore.from_dir("sim-store").obs_ids  # doctest: +SKIP
[1, 2, 3, 4]

The same seed gives byte-identical files. ``dl3lab simulate DIR`` is the command-line
front end.
"""

from .events import BackgroundSampler, sample_background_events, sample_source_events
from .irfs import PSF_MODELS, IRFModel
from .sky import PowerLaw, SkySource, crab_like_source
from .store import ObservationSpec, SimulationResult, simulate_data_store, simulate_observation, wobble_observations
from .tables import BKG_FORMATS, IRF_TYPES, PSF_FORMATS, make_irfs

__all__ = [
    "IRFModel",
    "PSF_MODELS",
    "PSF_FORMATS",
    "BKG_FORMATS",
    "IRF_TYPES",
    "make_irfs",
    "PowerLaw",
    "SkySource",
    "crab_like_source",
    "ObservationSpec",
    "SimulationResult",
    "wobble_observations",
    "simulate_observation",
    "simulate_data_store",
    "BackgroundSampler",
    "sample_source_events",
    "sample_background_events",
]
