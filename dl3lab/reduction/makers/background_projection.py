"""Background counts of one observation, computed in pixel chunks that threads can share (spec §4.3)."""

import threading

import numpy as np
from astropy import units as u

from ..interpolation import trapz_loglog_from_log
from .irf_projection import _LOG_TWO_TINY64, SeparableIRF, pixel_chunks
from .sky import (
    _separation_deg,
    _sky_offset,
    pixel_trig,
    pointing_offsets,
    pointing_radians,
    sky_offset_deg,
    solid_angle_sr,
)

__all__ = [
    "BackgroundTask", "BackgroundComputation", "background_work_dtype", "fov_coordinates", "prepare_background",
]

RATE_UNIT = u.Unit("s-1 sr-1")


def fov_coordinates(lon, lat, pointing, alignment):
    """FoV ``(fov_lon, fov_lat)`` (deg) of ICRS positions ``(lon, lat)`` for a background ``alignment`` (spec §4.3)."""
    p = pointing.icrs
    return _align(*sky_offset_deg(lon, lat, p.ra.deg, p.dec.deg), alignment)


def _align(xi, eta, alignment):
    if alignment == "REVERSE_LON_RADEC":
        return xi, eta
    if alignment == "RADEC":
        return -xi, eta
    raise NotImplementedError(f"background FoV alignment {alignment!r} is not supported yet")


def background_work_dtype(oversampling, dtype):
    """Dtype `BackgroundComputation` computes in: float64 when sub-bins are summed, else ``dtype``."""
    return np.dtype(np.float64) if oversampling else np.dtype(dtype)


def prepare_background(bkg, interp_missing_data=False, pad_offset=False):
    """The background table as the maps use it: holes filled along energy and 2-D tables padded in offset,
    if asked (spec §4.3 steps 2-3)."""
    if interp_missing_data:
        bkg = bkg.interp_missing_data(axis_name="energy")
    if pad_offset and "offset" in bkg.axes.names:
        bkg = bkg.pad_offset()
    return bkg


class BackgroundTask:
    """The background counts of one observation as a function of small arrays (picklable).

    Holds the background rate table (interpolated at the (oversampled) reco energy
    edges on first use), the rate-to-counts factor (unit conversion times ontime) and
    how pixel coordinates are formed (FoV offsets with the table's alignment, or
    offsets from the pointing). Together with the pixel centres and solid angles of
    a geometry and the pointing, it determines the result; `BackgroundComputation`
    evaluates it. A pickled task carries the table as read, so that hole filling and
    padding run where the task is evaluated.

    Parameters
    ----------
    bkg : `~dl3lab.reduction.irf.Background3D` or `~dl3lab.reduction.irf.Background2D`
        Background rate.
    energy_axis : `~dl3lab.reduction.MapAxis`
        Reco energy axis of the target geometry.
    ontime : `~astropy.units.Quantity`
        Observation time (not livetime).
    oversampling : int, optional
        Energy oversampling factor.
    dtype : dtype
        Dtype of the result.
    interp_missing_data, pad_offset : bool
        Fill holes along energy and pad 2-D tables in offset (see `MapDatasetMaker`)
        before use; False when ``bkg`` is already prepared.
    """

    def __init__(self, bkg, energy_axis, ontime, oversampling=None, dtype=np.float64, interp_missing_data=False,
                 pad_offset=False):
        self.n_energy = energy_axis.nbin
        if oversampling:
            energy_axis = energy_axis.upsample(int(oversampling))
        self.oversampling = oversampling
        self.dtype = np.dtype(dtype)
        e_unit = bkg.axes["energy"].unit
        self.edges = energy_axis.edges.to_value(e_unit)
        if "fov_lon" in bkg.axes.names:
            self.pixel_names, self.alignment = ["fov_lon", "fov_lat"], bkg.fov_alignment
            if self.alignment not in ("REVERSE_LON_RADEC", "RADEC"):
                raise NotImplementedError(f"background FoV alignment {self.alignment!r} is not supported yet")
        else:
            self.pixel_names, self.alignment = ["offset"], None
        self.bkg, self.interp_missing_data, self.pad_offset = bkg, interp_missing_data, pad_offset
        self._sep = None
        self.factor = float((u.Unit(bkg.unit) * e_unit).to(RATE_UNIT) * u.Quantity(ontime).to_value("s"))

    @property
    def sep(self):
        """The prepared table as a `SeparableIRF` at the energy edges (made on first use)."""
        if self._sep is None:
            bkg = prepare_background(self.bkg, self.interp_missing_data, self.pad_offset)
            self._sep = SeparableIRF(bkg, {"energy": self.edges}, self.pixel_names, values_scale="log")
        return self._sep

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_sep"] = None  # the table as read is smaller, and preparing it is the receiver's work
        return state

    @property
    def work_dtype(self):
        """Dtype the rates are integrated into (float64 with oversampling)."""
        return background_work_dtype(self.oversampling, self.dtype)

    def pixel_coords(self, trig, pointing_rad, offsets=None):
        """Pixel coordinates of the table's pixel axes.

        ``trig`` is ``(lon, lat, sin(lat), cos(lat))`` of the ICRS pixel centres in
        radians and ``pointing_rad`` the ICRS pointing ``(ra, dec)`` in radians;
        ``offsets`` (deg), if given, are the pixels' separations from the pointing.
        """
        lon, _, slat, clat = trig
        if self.alignment is None:
            if offsets is None:
                offsets = _separation_deg(lon, slat, clat, *pointing_rad)
            return {"offset": offsets}
        xi, eta = _align(*_sky_offset(lon, slat, clat, *pointing_rad), self.alignment)
        return {"fov_lon": xi, "fov_lat": eta}


class BackgroundComputation:
    """Predicted background counts per reco-energy bin and pixel (spec §4.3 steps 4-9).

    The rate is evaluated at the reco energy edges and the pixels' FoV coordinates,
    integrated over energy with the power-law rule, and multiplied by the pixel solid
    angle and the ontime. :meth:`work` processes pixel chunks until none are left and
    may run in several threads at once; :meth:`result` waits for all chunks.

    Parameters
    ----------
    bkg : `~dl3lab.reduction.irf.Background3D` or `~dl3lab.reduction.irf.Background2D`
        Background rate, already hole-filled / padded if requested.
    geom : `~dl3lab.reduction.geom.WcsGeom`
        Target geometry with a reco ``energy`` axis.
    pointing : `~astropy.coordinates.SkyCoord`
        Fixed ICRS pointing.
    ontime : `~astropy.units.Quantity`
        Observation time (not livetime).
    oversampling : int, optional
        Energy oversampling factor.
    out : ndarray, optional
        Array of shape ``(n_energy, n_pixels)`` (``n_energy`` oversampled) to hold the
        result; ignored if its shape or dtype differs.
    dtype : dtype, optional
        Dtype of the result. The rates are always integrated in float64; with
        oversampling the sub-bins are summed in float64 before the conversion.
    """

    def __init__(self, bkg, geom, pointing, ontime, oversampling=None, out=None, dtype=np.float64):
        task = BackgroundTask(bkg, geom.axes["energy"], ontime, oversampling=oversampling, dtype=dtype)
        image = geom.to_image()
        offsets = pointing_offsets(image, pointing) if task.alignment is None else None
        self._setup(task, pixel_trig(image), solid_angle_sr(image), pointing_radians(pointing), out, offsets)

    @classmethod
    def from_arrays(cls, task, trig, solid_angle, pointing_rad, out=None):
        """Computation of ``task`` on pixels given by arrays (see `BackgroundTask.pixel_coords`).

        ``solid_angle`` (sr) has the image shape of the result.
        """
        self = cls.__new__(cls)
        self._setup(task, trig, solid_angle, pointing_rad, out)
        return self

    def _setup(self, task, trig, solid_angle, pointing_rad, out, offsets=None):
        self.task, self.sep, self.edges, self.oversampling = task, task.sep, task.edges, task.oversampling
        self.image_shape = np.shape(solid_angle)
        self.dtype = task.dtype
        work_dtype = task.work_dtype
        self.base, self.corners, self.pixel_bad = self.sep.pixel_weights(task.pixel_coords(trig, pointing_rad, offsets))
        self.weight = np.ravel(solid_angle) * task.factor
        # Pixels outside the table's FoV edges stay zero and are never evaluated.
        pixels = np.flatnonzero(~self.pixel_bad)
        shape = (len(self.edges) - 1, len(self.base))
        # Every valid pixel is written by a chunk; only a partial set needs zeros elsewhere.
        if out is not None and out.shape == shape and out.dtype == work_dtype:
            self.data = out
            if len(pixels) != len(self.base):
                out[...] = 0.0
        else:
            self.data = (np.empty if len(pixels) == len(self.base) else np.zeros)(shape, work_dtype)
        # chunks of about `CHUNK_VALUES` (energy edge, pixel) values stay in the CPU cache
        self._chunks = pixel_chunks(pixels, len(self.base), len(self.edges))
        self._next = 0
        self._remaining = len(self._chunks)
        self._lock = threading.Lock()
        self._done = threading.Event()
        if not self._chunks:
            self._done.set()

    def _process(self, sl):
        # (energy edge, pixel) layout: every array operation runs along the contiguous pixels.
        log_rate = self.sep.columns_at(self.base, self.corners, sl)
        zero = log_rate <= _LOG_TWO_TINY64
        zero[self.sep.fixed_bad, :] = True
        integral = trapz_loglog_from_log(log_rate, zero, self.edges, axis=0)
        self.data[:, sl] = integral * self.weight[sl]

    def work(self):
        """Process chunks until none are left (safe to call from several threads)."""
        while True:
            with self._lock:
                if self._next >= len(self._chunks):
                    return
                chunk = self._chunks[self._next]
                self._next += 1
            self._process(chunk)
            with self._lock:
                self._remaining -= 1
                if self._remaining == 0:
                    self._done.set()

    def result(self):
        """The background counts, shape ``(n_energy,) + image shape`` (waits for running chunks)."""
        self.work()
        self._done.wait()
        data = self.data.reshape((len(self.edges) - 1,) + tuple(self.image_shape))
        if self.oversampling:
            n = int(self.oversampling)
            data = data.reshape((-1, n) + data.shape[1:]).sum(axis=1).astype(self.dtype, copy=False)
        return data

