"""Reading GADF DL3 data: data store, observations, events, GTIs and pointing."""

from .datastore import DataStore
from .events import EventList
from .gti import GTI
from .hdu_index import HDULocation
from .observation import Observation, Observations
from .pointing import FixedPointingInfo

__all__ = [
    "DataStore",
    "EventList",
    "FixedPointingInfo",
    "GTI",
    "HDULocation",
    "Observation",
    "Observations",
]
