"""`SkyView`: an Aladin Lite view (ipyaladin) showing the reduction's geometry, regions and result maps.

It subclasses ``ipyaladin.Aladin`` to work around known problems of ipyaladin 0.8.1:

- the queue of calls made before the view is loaded, and the click listeners,
  are shared by all instances: here they belong to each view;
- overlays vanish when the view is re-rendered: every named layer is kept and
  sent again when the front end reloads;
- only float images render: maps (including boolean masks) are sent as float32;
- annuli and points are not supported: they are drawn as circles;
- regions must have ICRS centres: other frames are converted before sending;
- Aladin Lite is loaded from a CDN: :func:`use_local_aladin_lite` points the view
  to another copy (for example the ``aladin-lite`` npm package served locally).

Layers are named; showing a layer again replaces it in place. :meth:`SkyView.on_click`
registers callbacks that receive the clicked position.
"""

import io
import os
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from ipyaladin import Aladin
from ipyaladin.utils.call_store import CallStore
from regions import CircleAnnulusSkyRegion, CircleSkyRegion, PointSkyRegion, PolygonSkyRegion

__all__ = ["SkyView", "use_local_aladin_lite", "ALADIN_LITE_CDN"]

ALADIN_LITE_CDN = "https://esm.sh/aladin-lite@3.9.2-beta"
_POINT_RADIUS = 0.02 * u.deg


def _patched_esm(url):
    source = (Path(Aladin._esm).read_text() if isinstance(Aladin._esm, Path | str) and Path(Aladin._esm).exists()
              else str(Aladin._esm))
    if ALADIN_LITE_CDN not in source:
        raise RuntimeError("this ipyaladin version does not load Aladin Lite from the expected CDN address")
    return source.replace(ALADIN_LITE_CDN, url)


def use_local_aladin_lite(url=None):
    """Make new sky views load Aladin Lite from ``url`` (default: ``DL3LAB_ALADIN_LITE_URL``).

    ``None`` with no environment variable restores the CDN.
    """
    url = url or os.environ.get("DL3LAB_ALADIN_LITE_URL")
    SkyView._esm = _patched_esm(url) if url else Aladin._esm


def _as_circles(region):
    """Regions Aladin Lite can draw: annuli become two circles, points small circles."""
    if isinstance(region, CircleAnnulusSkyRegion):
        return [CircleSkyRegion(region.center, radius) for radius in (region.inner_radius, region.outer_radius)]
    if isinstance(region, PointSkyRegion):
        return [CircleSkyRegion(region.center, _POINT_RADIUS)]
    return [region]


def image_hdulist(image):
    """A float32 FITS image of a 2-D WCS map (booleans as 0/1), as Aladin Lite needs."""
    data = np.asarray(image.data)
    if data.ndim != 2:
        raise ValueError(f"a sky view image must be 2-D, got shape {data.shape}")
    header = image.geom.wcs.to_header()
    return fits.HDUList([fits.PrimaryHDU(data=data.astype(np.float32), header=header)])


class SkyView(Aladin):
    """Aladin Lite view with named, replaceable dl3lab layers.

    Parameters
    ----------
    **kwargs
        Passed to ``ipyaladin.Aladin`` (``target``, ``fov``, ``survey``, ``height`` ...).
    """

    def __init__(self, **kwargs):
        # Per-instance state (ipyaladin keeps these on the class).
        self._call_store = CallStore()
        self.listener_callback = {}
        self._layers = {}
        self._click_callbacks = []
        super().__init__(**kwargs)
        self.observe(self._reloaded, names="_is_loaded")
        self.set_listener("click", self._clicked)

    # ------------------------------------------------------------- internals
    def _reloaded(self, change):
        if change["new"]:
            for resend in list(self._layers.values()):
                resend()

    def _remove_layer(self, name, replacing=False):
        send = self._layers.pop(name, None)
        if send is None:
            return
        if name in self._overlay_manager:
            self._overlay_manager.pop(name)
        # A view not loaded yet has none of the layers (it gets the current ones when it loads), and an image
        # is replaced by sending another one under its name (Aladin Lite's removeOverlay only finds graphic
        # overlays: for an image it logs an error).
        if self._is_loaded and not (replacing and getattr(send, "image", False)):
            self.send({"event_name": "remove_overlay", "overlay_names": [name]})

    def _show(self, name, send):
        self._remove_layer(name, replacing=True)
        self._layers[name] = send
        if self._is_loaded:
            send()

    def _clicked(self, content):
        if content.get("isDragging"):
            return  # the end of a drag (a pan), not a click
        position = SkyCoord(float(content["ra"]), float(content["dec"]), unit="deg", frame="icrs")
        for callback in list(self._click_callbacks):
            callback(position)

    def on_click(self, callback, remove=False):
        """Call ``callback(position)`` with the ICRS `~astropy.coordinates.SkyCoord` of each click.

        Clicks that end a drag (a pan of the view) are ignored. ``remove=True``
        unregisters the callback. Setting the ipyaladin ``"click"`` listener directly
        replaces this mechanism.
        """
        if remove:
            if callback in self._click_callbacks:
                self._click_callbacks.remove(callback)
        elif callback not in self._click_callbacks:
            self._click_callbacks.append(callback)

    @property
    def layer_names(self):
        """Names of the layers currently shown."""
        return list(self._layers)

    def remove_layer(self, name):
        """Remove a named layer (no error if it is not shown)."""
        self._remove_layer(name)

    # ---------------------------------------------------------------- layers
    def show_regions(self, name, regions, color="#00c8ff", line_width=2):
        """Show sky regions as the layer ``name`` (replacing it)."""
        shapes = [part for region in regions for part in _as_circles(region)]

        def send():
            self.send({"event_name": "add_overlay", "regions_infos": [_region_info(r) for r in shapes],
                       "graphic_options": {"name": name, "color": color, "lineWidth": line_width}})

        self._show(name, send)

    def show_geometry(self, geom, name="geometry", color="#ffffff"):
        """Show the footprint of a WCS geometry."""
        nx, ny = (int(n) for n in np.ravel(geom.npix)[:2])
        x = np.array([-0.5, nx - 0.5, nx - 0.5, -0.5])
        y = np.array([-0.5, -0.5, ny - 0.5, ny - 0.5])
        lon, lat = geom.wcs.wcs_pix2world(x, y, 0)
        polygon = PolygonSkyRegion(SkyCoord(lon, lat, unit="deg", frame=geom.frame))
        self.show_regions(name, [polygon], color=color)

    def show_pointings(self, pointings, offset_max=None, name="pointings", color="#ffd000"):
        """Show pointing positions (and ``offset_max`` circles around them)."""
        pointings = [p for p in pointings]
        regions = [PointSkyRegion(p) for p in pointings]
        self.show_regions(name, regions, color=color)
        if offset_max is not None:
            circles = [CircleSkyRegion(p, u.Quantity(offset_max, "deg")) for p in pointings]
            self.show_regions(f"{name}-offset-max", circles, color=color, line_width=1)

    def show_image(self, name, image, colormap="viridis", opacity=0.8):
        """Show a 2-D WCS map (counts, excess, significance, safe mask...) as the layer ``name``."""
        hdulist = image_hdulist(image)
        buffer = io.BytesIO()
        hdulist.writeto(buffer)
        payload = buffer.getvalue()
        options = {"name": name, "colormap": colormap, "opacity": opacity}

        def send():
            self.send({"event_name": "add_fits", "options": options}, buffers=[payload])

        send.image = True
        self._show(name, send)


def _icrs(region):
    """The region with ICRS coordinates (ipyaladin reads ``ra``/``dec`` of the centre or vertices)."""
    if isinstance(region, CircleSkyRegion):
        return CircleSkyRegion(region.center.icrs, region.radius, meta=region.meta, visual=region.visual)
    if isinstance(region, PolygonSkyRegion):
        return PolygonSkyRegion(region.vertices.icrs, meta=region.meta, visual=region.visual)
    return region


def _region_info(region):
    from ipyaladin.utils._region_converter import RegionInfos

    return RegionInfos(_icrs(region)).to_clean_dict()


# ``dl3lab app`` names a local copy of Aladin Lite in the environment of the kernels it starts.
if os.environ.get("DL3LAB_ALADIN_LITE_URL"):
    use_local_aladin_lite()
