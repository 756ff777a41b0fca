"""Base class of all makers: validated traits plus one verb, ``run``."""

import traitlets
from astropy import units as u

__all__ = ["Maker"]


def _format_value(value):
    if isinstance(value, u.Quantity):
        return f"{value.value:g} {value.unit}"
    if hasattr(value, "geom") and hasattr(value, "data"):
        return f"<{type(value).__name__} {tuple(value.data.shape)}>"
    return repr(value)


class Maker(traitlets.HasTraits):
    """A reduction step: parameters are traits, validated when assigned.

    Subclasses implement ``run(dataset, observation=None)`` and return a dataset.
    Parameters can be changed at any time; widgets link to the same traits.
    """

    tag = "Maker"

    def parameters(self):
        """Current parameter values as a dict (trait name -> value)."""
        return {name: getattr(self, name) for name in self.trait_names() if not name.startswith("_")}

    def __repr__(self):
        params = ", ".join(f"{k}={_format_value(v)}" for k, v in self.parameters().items())
        return f"{type(self).__name__}({params})"

    def __str__(self):
        lines = [type(self).__name__, "-" * len(type(self).__name__), ""]
        lines += [f"  {name:<32s}: {_format_value(value)}" for name, value in self.parameters().items()]
        return "\n".join(lines) + "\n"
