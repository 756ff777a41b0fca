"""Arithmetic, comparison and boolean operators of maps."""

import numpy as np
from astropy import units as u

__all__ = ["ArithmeticMixin"]

_UNIT_COMBINING = (np.multiply, np.true_divide)


class ArithmeticMixin:
    """Operators for :class:`~dl3lab.reduction.maps.Map`.

    The other operand may be a map with the same geometry (or data that
    broadcast to this map's shape), a Quantity, an array or a number; plain
    numbers are dimensionless. Addition, subtraction and comparisons convert
    the other operand to this map's unit; multiplication and division combine
    units. In-place operators replace the data with the result.
    """

    def _other_operand(self, other):
        from .core import Map

        if isinstance(other, Map):
            if other.geom != self.geom:
                try:
                    np.broadcast_shapes(other.data.shape, self.data.shape)
                except ValueError:
                    raise ValueError("map arithmetic: inconsistent geometries") from None
            return other.quantity if other.data.dtype != bool else u.Quantity(other.data, other.unit)
        return u.Quantity(other, copy=None)

    def _arithmetics(self, operator, other, copy):
        other = self._other_operand(other)
        other_data = other.value
        if operator in _UNIT_COMBINING:
            unit = operator(self.unit, other.unit)
        else:
            other_data = other.unit.get_converter(self.unit)(other_data)
            unit = None
        result = operator(self.data, other_data)
        if result.shape != self.geom.data_shape:
            result = np.broadcast_to(result, self.geom.data_shape).copy()
        out = self.copy(data=result) if copy else self
        if not copy:
            out._data = np.asarray(result)
        if unit is not None:
            out._unit = u.Unit(unit)
        return out

    def _boolean_arithmetics(self, operator, other, copy):
        from .core import Map

        if other is None:
            result = operator(self.data)
        else:
            other_data = other.data if isinstance(other, Map) else np.asarray(other)
            result = operator(self.data, other_data)
        result = np.broadcast_to(result, self.geom.data_shape)
        if copy:
            return self.copy(data=np.array(result))
        self._data = np.array(result)
        return self

    def _compare(self, operator, other):
        other = self._other_operand(other)
        other_data = other.unit.get_converter(self.unit)(other.value)
        result = np.broadcast_to(operator(self.data, other_data), self.geom.data_shape)
        return self.copy(data=np.array(result), unit="")

    def __add__(self, other):
        return self._arithmetics(np.add, other, copy=True)

    def __radd__(self, other):
        return self.__add__(other)

    def __iadd__(self, other):
        return self._arithmetics(np.add, other, copy=False)

    def __sub__(self, other):
        return self._arithmetics(np.subtract, other, copy=True)

    def __rsub__(self, other):
        return (-self).__add__(other)

    def __isub__(self, other):
        return self._arithmetics(np.subtract, other, copy=False)

    def __mul__(self, other):
        return self._arithmetics(np.multiply, other, copy=True)

    def __rmul__(self, other):
        return self.__mul__(other)

    def __imul__(self, other):
        return self._arithmetics(np.multiply, other, copy=False)

    def __truediv__(self, other):
        return self._arithmetics(np.true_divide, other, copy=True)

    def __rtruediv__(self, other):
        other = u.Quantity(other, copy=None)
        with np.errstate(divide="ignore", invalid="ignore"):
            data = np.true_divide(other.value, self.data)
        return self.copy(data=np.broadcast_to(data, self.geom.data_shape).copy(), unit=other.unit / self.unit)

    def __itruediv__(self, other):
        return self._arithmetics(np.true_divide, other, copy=False)

    def __pow__(self, power):
        return self.copy(data=self.data**power, unit=self.unit**power)

    def __neg__(self):
        return self.copy(data=-self.data)

    def __abs__(self):
        return self.copy(data=np.abs(self.data))

    def __lt__(self, other):
        return self._compare(np.less, other)

    def __le__(self, other):
        return self._compare(np.less_equal, other)

    def __gt__(self, other):
        return self._compare(np.greater, other)

    def __ge__(self, other):
        return self._compare(np.greater_equal, other)

    def __eq__(self, other):
        return self._compare(np.equal, other)

    def __ne__(self, other):
        return self._compare(np.not_equal, other)

    __hash__ = None

    def __and__(self, other):
        return self._boolean_arithmetics(np.logical_and, other, copy=True)

    def __rand__(self, other):
        return self.__and__(other)

    def __or__(self, other):
        return self._boolean_arithmetics(np.logical_or, other, copy=True)

    def __ror__(self, other):
        return self.__or__(other)

    def __xor__(self, other):
        return self._boolean_arithmetics(np.logical_xor, other, copy=True)

    def __rxor__(self, other):
        return self.__xor__(other)

    def __invert__(self):
        return self._boolean_arithmetics(np.logical_not, None, copy=True)

    def __iand__(self, other):
        return self._boolean_arithmetics(np.logical_and, other, copy=False)

    def __ior__(self, other):
        return self._boolean_arithmetics(np.logical_or, other, copy=False)

    def __ixor__(self, other):
        return self._boolean_arithmetics(np.logical_xor, other, copy=False)
