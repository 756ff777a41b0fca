"""Map coordinates: :class:`MapCoord`, sky positions plus values along non-spatial axes."""

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord

from ._utils import lonlat_skycoord, skycoord_lonlat

__all__ = ["MapCoord"]


def _as_deg(value):
    if isinstance(value, u.Quantity):
        return u.Quantity(value, "deg", copy=None)
    return u.Quantity(np.asarray(value, dtype=float), "deg", copy=None)


class MapCoord:
    """Coordinates of points in a map: longitude, latitude and non-spatial axis values.

    The coordinates are kept as arrays that broadcast against each other (a
    "sparse" coordinate set keeps small shapes that only broadcast to the full
    shape).

    Parameters
    ----------
    data : dict
        ``"lon"`` and ``"lat"`` (deg, floats or Quantities) and one entry per
        non-spatial axis, keyed by axis name. Axis values may be Quantities or
        plain arrays in the axis unit.
    frame : str, optional
        Sky frame of ``lon``/``lat`` (``"icrs"``, ``"galactic"``, ``"fk5"``).
    match_by_name : bool
        Whether axes are matched to a geometry by name (else by position).
    """

    def __init__(self, data, frame=None, match_by_name=True):
        items = {}
        for key, value in data.items():
            if key in ("lon", "lat"):
                items[key] = _as_deg(value)
            else:
                items[key] = value if isinstance(value, u.Quantity) else np.asarray(value)
        # keep lon/lat first
        ordered = {k: items[k] for k in ("lon", "lat") if k in items}
        ordered.update({k: v for k, v in items.items() if k not in ("lon", "lat")})
        self._data = ordered
        self._frame = frame
        self._match_by_name = match_by_name

    # ---------------------------------------------------------------- creation
    @classmethod
    def create(cls, data, frame=None, axis_names=None):
        """Create from a MapCoord, a dict, a SkyCoord or a tuple ``(lon, lat, *axes)``.

        Parameters
        ----------
        data : `MapCoord`, dict, `~astropy.coordinates.SkyCoord` or tuple
            A dict may hold ``"skycoord"`` instead of ``"lon"``/``"lat"``. A
            tuple is ``(lon, lat, x1, x2, ...)`` or ``(skycoord, x1, ...)``.
        frame : str, optional
            Frame to convert sky positions to.
        axis_names : list of str, optional
            Names of the non-spatial values in a tuple.
        """
        if isinstance(data, cls):
            return data.to_frame(frame) if frame is not None else data
        if isinstance(data, SkyCoord):
            data = {"skycoord": data}
        if isinstance(data, dict):
            data = dict(data)
            match_by_name = True
            coord_frame = frame
            if "skycoord" in data:
                sky = data.pop("skycoord")
                coord_frame = frame or sky.frame.name
                lon, lat = skycoord_lonlat(sky, coord_frame)
                data = {"lon": lon, "lat": lat, **data}
            return cls(data, frame=coord_frame, match_by_name=match_by_name)
        if isinstance(data, (tuple, list)):
            values = list(data)
            out = {}
            coord_frame = frame
            if values and isinstance(values[0], SkyCoord):
                sky = values.pop(0)
                coord_frame = frame or sky.frame.name
                out["lon"], out["lat"] = skycoord_lonlat(sky, coord_frame)
            elif len(values) >= 2:
                out["lon"], out["lat"] = values.pop(0), values.pop(0)
            names = list(axis_names) if axis_names is not None else [f"axis{i}" for i in range(len(values))]
            if len(names) < len(values):
                raise ValueError(f"{len(values)} axis values given but only {len(names)} axis names")
            for name, value in zip(names, values):
                out[name] = value
            return cls(out, frame=coord_frame, match_by_name=axis_names is not None)
        raise TypeError(f"cannot create MapCoord from {type(data).__name__}")

    # -------------------------------------------------------------- accessors
    @property
    def frame(self):
        """Sky frame name, or None."""
        return self._frame

    @property
    def match_by_name(self):
        """Whether axes are matched by name."""
        return self._match_by_name

    @property
    def axis_names(self):
        """Names of all coordinates (``lon``, ``lat`` and non-spatial axes)."""
        return list(self._data)

    @property
    def lon(self):
        """Longitude (Quantity, deg)."""
        return self._data["lon"]

    @property
    def lat(self):
        """Latitude (Quantity, deg)."""
        return self._data["lat"]

    @property
    def skycoord(self):
        """Sky positions as a `~astropy.coordinates.SkyCoord`."""
        lon, lat = np.broadcast_arrays(self.lon.to_value("deg"), self.lat.to_value("deg"))
        return lonlat_skycoord(lon, lat, self._frame or "icrs")

    @property
    def shape(self):
        """Broadcast shape of all coordinates."""
        return np.broadcast_shapes(*[np.shape(v) for v in self._data.values()])

    @property
    def size(self):
        """Number of points."""
        return int(np.prod(self.shape))

    @property
    def ndim(self):
        """Number of coordinates (spatial and non-spatial)."""
        return len(self._data)

    def __getitem__(self, key):
        if isinstance(key, str):
            return self._data[key]
        return list(self._data.values())[key]

    def __setitem__(self, key, value):
        self._data[key] = _as_deg(value) if key in ("lon", "lat") else value

    def __contains__(self, key):
        return key in self._data

    def __iter__(self):
        return iter(self._data.values())

    def __len__(self):
        return len(self._data)

    def items(self):
        """``(name, values)`` pairs."""
        return self._data.items()

    # ----------------------------------------------------------- transforms
    @property
    def broadcasted(self):
        """Copy with all coordinates broadcast to the common shape."""
        shape = self.shape
        data = {k: np.broadcast_to(v, shape, subok=True) for k, v in self._data.items()}
        return self.__class__(data, frame=self._frame, match_by_name=self._match_by_name)

    @property
    def flat(self):
        """Copy with all coordinates broadcast and flattened to 1-D."""
        shape = self.shape
        data = {k: np.broadcast_to(v, shape, subok=True).ravel() for k, v in self._data.items()}
        return self.__class__(data, frame=self._frame, match_by_name=self._match_by_name)

    def apply_mask(self, mask):
        """Select the points where ``mask`` is True (broadcast first)."""
        shape = self.shape
        mask = np.broadcast_to(mask, shape)
        data = {k: np.broadcast_to(v, shape, subok=True)[mask] for k, v in self._data.items()}
        return self.__class__(data, frame=self._frame, match_by_name=self._match_by_name)

    def to_frame(self, frame):
        """Copy with sky positions in ``frame``."""
        if frame is None or self._frame is None or frame == self._frame or "lon" not in self._data:
            if frame is not None and self._frame is None:
                return self.__class__(self._data, frame=frame, match_by_name=self._match_by_name)
            return self
        lon, lat = skycoord_lonlat(self.skycoord, frame)
        data = dict(self._data)
        data["lon"], data["lat"] = lon, lat
        return self.__class__(data, frame=frame, match_by_name=self._match_by_name)

    def copy(self):
        """Deep copy."""
        data = {k: v.copy() for k, v in self._data.items()}
        return self.__class__(data, frame=self._frame, match_by_name=self._match_by_name)

    def __repr__(self):
        return f"MapCoord(axes={self.axis_names}, shape={self.shape}, frame={self._frame!r})"
