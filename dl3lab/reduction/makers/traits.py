"""Validated trait types shared by the makers."""

import traitlets
from astropy import units as u

__all__ = ["AngleTrait", "SubsetList", "OptionalInstance"]


class AngleTrait(traitlets.TraitType):
    """An angle stored as a `~astropy.units.Quantity` in degrees (or in ``unit``).

    Accepts a Quantity, a string such as ``"3 deg"`` or a number (in ``unit``).

    Parameters
    ----------
    positive : bool
        Require a strictly positive angle.
    allow_none : bool
        Accept None.
    unit : str
        Unit of storage and of plain numbers (default ``"deg"``).
    """

    info_text = "an angle (Quantity, '<value> <unit>' string, or degrees)"

    def __init__(self, default_value=traitlets.Undefined, positive=False, unit="deg", **kwargs):
        self.positive = positive
        self.unit = u.Unit(unit)
        if default_value is not traitlets.Undefined and default_value is not None:
            default_value = u.Quantity(default_value, self.unit)
        super().__init__(default_value=default_value, **kwargs)

    def validate(self, obj, value):
        if value is None and self.allow_none:
            return None
        try:
            angle = u.Quantity(value, self.unit) if not isinstance(value, u.Quantity) else value.to(self.unit)
        except (TypeError, ValueError, u.UnitsError):
            self.error(obj, value)
        if angle.ndim != 0 or not bool(abs(angle.value) < float("inf")):
            self.error(obj, value)
        if self.positive and angle.value <= 0:
            raise traitlets.TraitError(
                f"The '{self.name}' trait of {type(obj).__name__} must be a positive angle, got {angle}"
            )
        return angle


class SubsetList(traitlets.List):
    """A list of unique strings chosen from a fixed set of names."""

    def __init__(self, choices, default_value=traitlets.Undefined, **kwargs):
        self.choices = tuple(choices)
        super().__init__(trait=traitlets.Unicode(), default_value=default_value, **kwargs)

    def validate(self, obj, value):
        if isinstance(value, str):
            value = [value]
        value = super().validate(obj, value)
        unknown = [v for v in value if v not in self.choices]
        if unknown:
            raise traitlets.TraitError(
                f"The '{self.name}' trait of {type(obj).__name__} got unknown name(s) {unknown}; "
                f"choose from {list(self.choices)}"
            )
        if len(set(value)) != len(value):
            raise traitlets.TraitError(f"The '{self.name}' trait of {type(obj).__name__} has duplicates: {value}")
        return list(value)


class OptionalInstance(traitlets.Any):
    """Any object passing a check function, or None."""

    def __init__(self, check, description, **kwargs):
        self.check = check
        self.description = description
        kwargs.setdefault("allow_none", True)
        super().__init__(default_value=None, **kwargs)

    def validate(self, obj, value):
        if value is None or self.check(value):
            return value
        raise traitlets.TraitError(
            f"The '{self.name}' trait of {type(obj).__name__} must be {self.description}, got {type(value).__name__}"
        )
