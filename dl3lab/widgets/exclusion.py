"""`ExclusionEditor`: add and remove the pipeline's exclusion circles, by coordinates or by clicking the sky.

The pipeline's ``exclusion_regions`` list is the only state: every edit assigns a
new list to it, and the editor (list and sky layer) redraws from the trait, so
edits made elsewhere show up too. The circle being prepared is an
`~dl3lab.reduction.pipeline.exclusion.ExclusionCircle`, whose traits validate the
coordinates and the radius.
"""

import html

import ipywidgets as widgets
import traitlets

from dl3lab.reduction.pipeline.exclusion import (
    ExclusionCircle,
    add_exclusion_circle,
    exclusion_sky_regions,
    remove_exclusion_circle,
)

from .controls import TraitControl

__all__ = ["ExclusionEditor", "EXCLUSION_LAYER"]

EXCLUSION_LAYER = "exclusion"
_COLOR = "#ff4040"


def _number(value, template="{:.4f}"):
    try:
        return template.format(float(value))
    except (TypeError, ValueError):
        return repr(value)


def _error_html(exc):
    return f"<span style='color:#b00020'>{html.escape(str(exc))}</span>"


class ExclusionEditor(widgets.VBox):
    """Editor of ``pipeline.exclusion_regions`` (circles in the geometry frame, deg).

    Parameters
    ----------
    pipeline : `~dl3lab.reduction.pipeline.ReductionPipeline`
        The pipeline whose exclusion list is edited.
    sky_view : `~dl3lab.widgets.SkyView`, optional
        Shows the circles as the layer ``"exclusion"``; with "click to add" on, each
        click on it adds a circle of the current radius there.
    radius : float
        Initial radius (deg) of new circles.

    Attributes
    ----------
    circle : `~dl3lab.reduction.pipeline.exclusion.ExclusionCircle`
        The circle the coordinate controls edit, added by :meth:`add`.
    """

    def __init__(self, pipeline, sky_view=None, radius=0.3):
        self.pipeline = pipeline
        self.sky_view = sky_view
        geometry = pipeline.geometry
        self.circle = ExclusionCircle(lon=geometry.lon, lat=geometry.lat, radius=radius)
        self.controls = {name: TraitControl(self.circle, name, f"{name} (deg)") for name in ("lon", "lat", "radius")}
        self.frame_label = widgets.HTML(value="")
        self.add_button = widgets.Button(description="Add", icon="plus")
        self.add_button.on_click(lambda _: self.add())
        self.click_to_add = widgets.ToggleButton(value=False, description="Click sky to add", icon="crosshairs",
                                                 disabled=sky_view is None,
                                                 tooltip="each click on the sky view adds a circle of this radius")
        self.clear_button = widgets.Button(description="Remove all", icon="trash")
        self.clear_button.on_click(lambda _: self.clear())
        self.error = widgets.HTML(value="")
        self.rows = widgets.VBox([])
        super().__init__([
            self.frame_label,
            widgets.HBox([self.controls["lon"], self.controls["lat"], self.controls["radius"]]),
            widgets.HBox([self.add_button, self.click_to_add, self.clear_button]),
            self.error,
            self.rows,
        ])
        pipeline.observe(self._regions_changed, names="exclusion_regions")
        pipeline.observe(self._geometry_replaced, names="geometry")
        geometry.observe(self._frame_changed, names="frame")
        if sky_view is not None:
            sky_view.on_click(self._sky_clicked)
        self._closed = False
        self._redraw()

    @property
    def frame(self):
        """The frame of the circle coordinates (the geometry frame)."""
        return self.pipeline.geometry.frame

    # --------------------------------------------------------------- actions
    def add(self, circle=None):
        """Append ``circle`` (default: the one the controls edit) to the pipeline's list."""
        try:
            self.pipeline.exclusion_regions = add_exclusion_circle(self.pipeline.exclusion_regions,
                                                                   circle if circle is not None else self.circle)
        except (ValueError, traitlets.TraitError) as exc:
            self.error.value = _error_html(exc)

    def add_at(self, position):
        """Add a circle of the current radius centred on a sky position (any frame)."""
        try:
            circle = ExclusionCircle.at(position, self.circle.radius, frame=self.frame)
        except ValueError as exc:
            self.error.value = _error_html(exc)
            return
        self.circle.lon, self.circle.lat = circle.lon, circle.lat
        self.add(circle)

    def remove(self, index):
        """Remove the circle at ``index`` (from 0) from the pipeline's list."""
        try:
            self.pipeline.exclusion_regions = remove_exclusion_circle(self.pipeline.exclusion_regions, index)
        except IndexError as exc:
            self.error.value = _error_html(exc)

    def clear(self):
        """Remove every circle."""
        self.pipeline.exclusion_regions = []

    # ------------------------------------------------------------- internals
    def _sky_clicked(self, position):
        if self.click_to_add.value:
            self.add_at(position)

    def _regions_changed(self, change):
        self._redraw()

    def _geometry_replaced(self, change):
        if change["old"] is not None:
            change["old"].unobserve(self._frame_changed, names="frame")
        change["new"].observe(self._frame_changed, names="frame")
        self._redraw()

    def _frame_changed(self, change):
        self._redraw()

    def _row(self, index, region):
        get = region.get if isinstance(region, dict) else (lambda key: None)
        label = widgets.HTML(value=html.escape(f"{index + 1}: lon {_number(get('lon'))}, lat {_number(get('lat'))}, "
                                               f"radius {_number(get('radius'), '{:.3g}')} deg"))
        button = widgets.Button(description="Remove", icon="minus", layout=widgets.Layout(width="auto"))
        button.on_click(lambda _: self.remove(index))
        return widgets.HBox([label, button])

    def _redraw(self):
        """List and sky layer from the pipeline's list (the only state)."""
        regions = list(self.pipeline.exclusion_regions)
        self.frame_label.value = f"Exclusion circles in the geometry frame ({html.escape(self.frame)})"
        self.rows.children = [self._row(i, region) for i, region in enumerate(regions)]
        try:
            sky_regions = exclusion_sky_regions(regions, frame=self.frame)
        except ValueError as exc:
            self.error.value = _error_html(exc)
            sky_regions = None
        else:
            self.error.value = ""
        if self.sky_view is not None:
            if sky_regions:
                self.sky_view.show_regions(EXCLUSION_LAYER, sky_regions, color=_COLOR)
            else:
                self.sky_view.remove_layer(EXCLUSION_LAYER)

    def close(self):
        if not getattr(self, "_closed", True):  # idempotent (garbage collection calls it again)
            self._closed = True
            self.pipeline.unobserve(self._regions_changed, names="exclusion_regions")
            self.pipeline.unobserve(self._geometry_replaced, names="geometry")
            self.pipeline.geometry.unobserve(self._frame_changed, names="frame")
            if self.sky_view is not None:
                self.sky_view.on_click(self._sky_clicked, remove=True)
        for control in self.controls.values():
            control.close()
        super().close()
