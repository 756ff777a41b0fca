"""Panels of linked controls for the makers and the geometry."""

import ipywidgets as widgets
import traitlets

from dl3lab.reduction.datasets.memory import format_bytes, max_dataset_bytes

from .controls import controls_for

__all__ = ["MakerWidget", "GeometryWidget", "OnRegionWidget"]

_LAYOUTS = {
    "MapDatasetMaker": ["selection", "background_oversampling", "background_interp_missing_data",
                        "background_pad_offset", "threads"],
    "SafeMaskMaker": ["methods", "aeff_percent", "bias_percent", "offset_max", "fixed_offset", "irfs"],
    "FoVBackgroundMaker": ["method", "fit_tilt", "min_counts", "min_npred_background"],
    "SpectrumDatasetMaker": ["selection", "containment_correction", "use_region_center"],
    "ReflectedRegionsBackgroundMaker": [],
    "ReflectedRegionsFinder": ["angle_increment", "min_distance", "min_distance_input", "max_region_number", "binsz"],
    "WobbleRegionsFinder": ["n_off_regions", "binsz"],
    "RingBackgroundMaker": ["r_in", "width"],
}

#: Traits holding a parameter object whose controls a maker's panel shows too (laid out by its class).
_NESTED = {
    "ReflectedRegionsBackgroundMaker": ["region_finder"],
}


class MakerWidget(widgets.VBox):
    """Controls for every editable parameter of a maker, linked to its traits.

    The controls of a parameter object held by the maker (the region finder of a
    `~dl3lab.reduction.ReflectedRegionsBackgroundMaker`) are shown too, under their
    own names; they are rebuilt when the maker gets a new object.

    Parameters
    ----------
    maker : `~dl3lab.reduction.makers.Maker`
        The maker; the widget holds no copy of its parameters.
    title : str, optional
        Header (default: the maker's class name).
    """

    def __init__(self, maker, title=None):
        self.maker = maker
        self.header = widgets.HTML(f"<b>{title or type(maker).__name__}</b>")
        self.controls = {}
        self._nested = _NESTED.get(type(maker).__name__, [])
        super().__init__([self.header])
        self._build()
        if self._nested:
            maker.observe(self._nested_replaced, names=self._nested)

    def _build(self):
        for control in self.controls.values():
            control.close()
        controls = controls_for(self.maker, names=_LAYOUTS.get(type(self.maker).__name__))
        for name in self._nested:
            obj = getattr(self.maker, name)
            if obj is None:
                continue
            for key, control in controls_for(obj, names=_LAYOUTS.get(type(obj).__name__)).items():
                controls[f"{name}.{key}" if key in controls else key] = control
        self.controls = controls
        self.children = [self.header, *controls.values()]

    def _nested_replaced(self, change):
        self._build()

    def close(self):
        if self._nested:
            self.maker.unobserve(self._nested_replaced, names=self._nested)
            self._nested = []
        for control in self.controls.values():
            control.close()
        super().close()


class OnRegionWidget(widgets.VBox):
    """Controls for a `~dl3lab.reduction.pipeline.OnRegionSpec` (circle centre, radius and frame)."""

    def __init__(self, spec, title="ON region"):
        self.spec = spec
        self.controls = controls_for(spec)
        super().__init__([widgets.HTML(f"<b>{title}</b>"), *self.controls.values()])

    def close(self):
        for control in self.controls.values():
            control.close()
        super().close()


class GeometryWidget(widgets.VBox):
    """Controls for a `~dl3lab.reduction.pipeline.GeometrySpec`, with the dataset's memory size.

    The size line turns into a warning when one dataset would exceed ``large_bytes``
    (default: the limit above which `MapDataset.create` refuses, see
    `~dl3lab.reduction.datasets.memory`).
    """

    def __init__(self, spec, large_bytes=None):
        self.spec = spec
        self.large_bytes = large_bytes
        self.controls = controls_for(spec)
        self.size = widgets.HTML()
        spec.observe(self._update_size, names=traitlets.All)
        self._update_size()
        super().__init__([widgets.HTML("<b>Geometry</b>"), *self.controls.values(), self.size])

    def _update_size(self, change=None):
        nbytes = self.spec.dataset_nbytes()
        text = f"{self.spec.npix} x {self.spec.npix} pixels, dataset about {format_bytes(nbytes)}"
        if nbytes > (self.large_bytes if self.large_bytes is not None else max_dataset_bytes()):
            text = f"<span style='color:#b00020'>&#9888; {text}: consider a coarser bin size or a smaller width</span>"
        self.size.value = text

    def close(self):
        if not getattr(self, "_closed", False):  # idempotent: garbage collection calls it again
            self._closed = True
            self.spec.unobserve(self._update_size, names=traitlets.All)
        for control in self.controls.values():
            control.close()
        super().close()
