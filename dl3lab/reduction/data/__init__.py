"""Reading GADF DL3 data: data store, observations, events, GTIs, pointing and observation selection."""

from .datastore import DataStore
from .events import EventList
from .gti import GTI
from .hdu_index import HDULocation
from .obs_selection import ObservationFilter, observation_summary, select_observations, selection_mask
from .observation import Observation, Observations
from .pointing import FixedPointingInfo

__all__ = [
    "DataStore",
    "EventList",
    "FixedPointingInfo",
    "GTI",
    "HDULocation",
    "Observation",
    "ObservationFilter",
    "Observations",
    "observation_summary",
    "select_observations",
    "selection_mask",
]
