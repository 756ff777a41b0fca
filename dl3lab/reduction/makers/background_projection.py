"""Background counts of one observation, computed in pixel chunks that threads can share (spec §4.3)."""

import threading

import numpy as np
from astropy import units as u

from ..interpolation import trapz_loglog_from_log
from .irf_projection import _LOG_TWO_TINY64, SeparableIRF, pixel_chunks
from .sky import pixel_sky_offsets, pointing_offsets, sky_offset_deg, solid_angle_sr

__all__ = ["BackgroundComputation", "background_work_dtype", "make_background_data", "fov_coordinates"]

RATE_UNIT = u.Unit("s-1 sr-1")


def _fov_coordinates(geom, pointing, alignment):
    return _align(*pixel_sky_offsets(geom, pointing), alignment)


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
        energy_axis = geom.axes["energy"]
        if oversampling:
            energy_axis = energy_axis.upsample(int(oversampling))
        self.oversampling = oversampling
        self.dtype = np.dtype(dtype)
        work_dtype = background_work_dtype(oversampling, dtype)
        e_unit = bkg.axes["energy"].unit
        self.edges = energy_axis.edges.to_value(e_unit)
        self.image = geom.to_image()
        if "fov_lon" in bkg.axes.names:
            fov_lon, fov_lat = _fov_coordinates(self.image, pointing, bkg.fov_alignment)
            pixels = {"fov_lon": fov_lon, "fov_lat": fov_lat}
        else:
            pixels = {"offset": pointing_offsets(self.image, pointing)}
        self.sep = SeparableIRF(bkg, {"energy": self.edges}, list(pixels), values_scale="log")
        self.base, self.corners, self.pixel_bad = self.sep.pixel_weights(pixels)
        factor = (u.Unit(bkg.unit) * e_unit).to(RATE_UNIT) * u.Quantity(ontime).to_value("s")
        self.weight = np.ravel(solid_angle_sr(self.image)) * factor
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
        data = self.data.reshape((len(self.edges) - 1,) + self.image.data_shape)
        if self.oversampling:
            n = int(self.oversampling)
            data = data.reshape((-1, n) + data.shape[1:]).sum(axis=1).astype(self.dtype, copy=False)
        return data


def make_background_data(bkg, geom, pointing, ontime, oversampling=None, dtype=np.float64):
    """Predicted background counts per reco-energy bin and pixel, in the calling thread."""
    return BackgroundComputation(bkg, geom, pointing, ontime, oversampling=oversampling, dtype=dtype).result()
