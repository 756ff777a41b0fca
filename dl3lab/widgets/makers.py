"""Panels of linked controls for the makers and the geometry."""

import ipywidgets as widgets
import traitlets

from .controls import controls_for

__all__ = ["MakerWidget", "GeometryWidget", "LARGE_DATASET_BYTES"]

#: A geometry whose dataset would exceed this size gets a warning.
LARGE_DATASET_BYTES = 2 * 1024**3

_LAYOUTS = {
    "MapDatasetMaker": ["selection", "background_oversampling", "background_interp_missing_data",
                        "background_pad_offset", "threads"],
    "SafeMaskMaker": ["methods", "aeff_percent", "bias_percent", "offset_max", "fixed_offset", "irfs"],
    "FoVBackgroundMaker": ["method", "fit_tilt", "min_counts", "min_npred_background"],
}


class MakerWidget(widgets.VBox):
    """Controls for every editable parameter of a maker, linked to its traits.

    Parameters
    ----------
    maker : `~dl3lab.reduction.makers.Maker`
        The maker; the widget holds no copy of its parameters.
    """

    def __init__(self, maker, title=None):
        self.maker = maker
        names = _LAYOUTS.get(type(maker).__name__)
        self.controls = controls_for(maker, names=names)
        header = widgets.HTML(f"<b>{title or type(maker).__name__}</b>")
        super().__init__([header, *self.controls.values()])

    def close(self):
        for control in self.controls.values():
            control.close()
        super().close()


def _format_bytes(n):
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


class GeometryWidget(widgets.VBox):
    """Controls for a `~dl3lab.reduction.pipeline.GeometrySpec`, with the dataset's memory size.

    The size line turns into a warning when one dataset would exceed
    `LARGE_DATASET_BYTES`.
    """

    def __init__(self, spec, large_bytes=LARGE_DATASET_BYTES):
        self.spec = spec
        self.large_bytes = large_bytes
        self.controls = controls_for(spec)
        self.size = widgets.HTML()
        spec.observe(self._update_size, names=traitlets.All)
        self._update_size()
        super().__init__([widgets.HTML("<b>Geometry</b>"), *self.controls.values(), self.size])

    def _update_size(self, change=None):
        nbytes = self.spec.dataset_nbytes()
        text = f"{self.spec.npix} x {self.spec.npix} pixels, dataset about {_format_bytes(nbytes)}"
        if nbytes > self.large_bytes:
            text = f"<span style='color:#b00020'>&#9888; {text}: consider a coarser bin size or a smaller width</span>"
        self.size.value = text

    def close(self):
        self.spec.unobserve(self._update_size, names=traitlets.All)
        for control in self.controls.values():
            control.close()
        super().close()
