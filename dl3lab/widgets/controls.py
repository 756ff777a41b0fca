"""Controls linked to the traits of a `traitlets.HasTraits` object.

A control never holds state of its own: it shows the trait's value, and a user edit
is assigned to the trait, whose own validation decides. A rejected value is shown
as an error next to the control, which returns to the trait's current value.
"""

import ipywidgets as widgets
import traitlets
from astropy import units as u

from dl3lab.reduction.makers.traits import AngleTrait, OptionalInstance, SubsetList

__all__ = ["TraitControl", "trait_control", "controls_for"]


def _is_angle(trait):
    return isinstance(trait, AngleTrait)


def _make_widget(trait, value, description):
    """A widget and the (to_widget, from_widget) conversions for one trait."""
    identity = (lambda v: v, lambda v: v)
    style = {"description_width": "initial"}
    if _is_angle(trait) and trait.allow_none:
        # a text box: empty means "unset" (a number box would have to hold NaN, which JSON cannot carry)
        def to_text(v):
            return "" if v is None else f"{float(u.Quantity(v).to_value('deg')):g}"

        def from_text(text):
            text = text.strip()
            if not text:
                return None
            try:
                return float(text) * u.deg
            except ValueError:
                raise ValueError(f"{description}: expected an angle in deg or nothing, got {text!r}") from None

        widget = widgets.Text(value=to_text(value), description=f"{description} (deg)", placeholder="not set",
                              continuous_update=False, style=style)
        return widget, (to_text, from_text)
    if _is_angle(trait):
        to_widget = lambda v: float(u.Quantity(v).to_value("deg"))  # noqa: E731
        return widgets.FloatText(value=to_widget(value), description=f"{description} (deg)", style=style), (
            to_widget, lambda v: v * u.deg)
    if isinstance(trait, SubsetList):
        widget = widgets.SelectMultiple(options=list(trait.choices), value=tuple(value), description=description,
                                        rows=min(5, len(trait.choices)), style=style)
        return widget, (tuple, list)
    if isinstance(trait, traitlets.Enum):
        return widgets.Dropdown(options=list(trait.values), value=value, description=description, style=style), identity
    if isinstance(trait, traitlets.Bool):
        return widgets.Checkbox(value=bool(value), description=description, indent=False), identity
    if isinstance(trait, traitlets.Int):
        lo, hi = getattr(trait, "min", None), getattr(trait, "max", None)
        if value is None:
            return widgets.IntText(value=0, description=description, style=style), (
                lambda v: 0 if v is None else v, lambda v: None if v == 0 else v)
        if lo is not None and hi is not None and hi - lo <= 1000:
            return widgets.IntSlider(value=value, min=lo, max=hi, description=description, style=style), identity
        return widgets.IntText(value=value, description=description, style=style), identity
    if isinstance(trait, traitlets.Float):
        lo, hi = getattr(trait, "min", None), getattr(trait, "max", None)
        if lo is not None and hi is not None and hi - lo <= 1000:
            step = (hi - lo) / 200
            return widgets.FloatSlider(value=value, min=lo, max=hi, step=step, description=description,
                                       continuous_update=True, style=style), identity
        return widgets.FloatText(value=value, description=description, style=style), identity
    if isinstance(trait, traitlets.Unicode):
        return widgets.Text(value=value or "", description=description, style=style), identity
    return None, identity


class TraitControl(widgets.VBox):
    """One control linked to ``obj.<name>``, with a line for validation errors.

    Parameters
    ----------
    obj : `traitlets.HasTraits`
        The object owning the trait (a maker, a geometry spec...).
    name : str
        Trait name.
    description : str, optional
        Label (default: the trait name).
    """

    def __init__(self, obj, name, description=None):
        trait = obj.traits()[name]
        widget, (to_widget, from_widget) = _make_widget(trait, getattr(obj, name), description or name)
        if widget is None:
            raise TypeError(f"no control for trait {name!r} of type {type(trait).__name__}")
        self.obj, self.name, self.widget = obj, name, widget
        widget.add_class(f"dl3lab-control-{name}")  # a stable CSS class (browser tests, styling)
        self._to_widget, self._from_widget = to_widget, from_widget
        self.error = widgets.HTML(value="", layout=widgets.Layout(min_height="0px"))
        self._updating = False
        self._closed = False
        super().__init__([widget, self.error])
        widget.observe(self._widget_changed, names="value")
        obj.observe(self._trait_changed, names=name)

    def _widget_changed(self, change):
        if self._updating:
            return
        try:
            setattr(self.obj, self.name, self._from_widget(change["new"]))
        except (traitlets.TraitError, ValueError, TypeError) as exc:
            self.error.value = f"<span style='color:#b00020'>{_html_escape(str(exc))}</span>"
            self._show(getattr(self.obj, self.name))
        else:
            self.error.value = ""

    def _trait_changed(self, change):
        self._show(change["new"])

    def _show(self, value):
        self._updating = True
        try:
            self.widget.value = self._to_widget(value)
        finally:
            self._updating = False

    def close(self):
        if not self._closed:
            self._closed = True
            self.obj.unobserve(self._trait_changed, names=self.name)
        super().close()


def _html_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def trait_control(obj, name, description=None):
    """A `TraitControl` for ``obj.<name>``."""
    return TraitControl(obj, name, description=description)


def controls_for(obj, names=None, skip=()):
    """Controls for several traits of ``obj`` (all supported ones by default), as a dict name -> control."""
    result = {}
    for name, trait in obj.traits().items():
        if name.startswith("_") or name in skip or (names is not None and name not in names):
            continue
        if isinstance(trait, OptionalInstance | traitlets.Instance | traitlets.List) and not isinstance(
            trait, SubsetList
        ):
            continue
        try:
            result[name] = TraitControl(obj, name)
        except TypeError:
            continue
    if names is not None:
        result = {n: result[n] for n in names if n in result}
    return result
