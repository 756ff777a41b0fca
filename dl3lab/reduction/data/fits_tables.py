"""A small, fast reader for the FITS binary tables of DL3 files.

DL3 run files hold a handful of binary tables. Parsing them with numpy straight
from the (decompressed) bytes is several times faster than building astropy HDU
objects, whose per-card configuration lookups dominate the cost of reading a run.
The objects returned here offer the subset of the astropy interface the readers
use: ``name``, ``header`` (a dict with ``get``), ``columns`` (``names`` and
per-column ``name``/``format``/``unit``/``dim``), ``data[column]`` and ``len(data)``.

`TableReader` parses the HDUs in file order only as far as a request needs, so a
table near the start of a (compressed) file is read without the rest of it.
"""

import re

import numpy as np

__all__ = ["FitsFormatError", "read_fits_tables", "TableHDU", "TableReader", "BytesSource"]

_BLOCK = 2880
_CARD = 80
_TFORM = re.compile(r"^\s*(\d*)([LXBIJKAEDCMPQ])(.*)$")
_NUMPY = {"L": "i1", "B": "u1", "I": ">i2", "J": ">i4", "K": ">i8", "E": ">f4", "D": ">f8", "C": ">c8", "M": ">c16"}
_IMAGE_DTYPE = {8: "u1", 16: ">i2", 32: ">i4", 64: ">i8", -32: ">f4", -64: ">f8"}


class FitsFormatError(ValueError):
    """The bytes are not a well-formed FITS file (or are truncated)."""


def _parse_value(text):
    text = text.strip()
    if not text:
        return None
    if text.startswith("'"):
        out, i = [], 1
        while i < len(text):
            ch = text[i]
            if ch == "'":
                if i + 1 < len(text) and text[i + 1] == "'":
                    out.append("'")
                    i += 2
                    continue
                break
            out.append(ch)
            i += 1
        return "".join(out).rstrip()
    value = text.split("/", 1)[0].strip()
    if value == "T":
        return True
    if value == "F":
        return False
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value.replace("D", "E").replace("d", "e"))
    except ValueError:
        return value


class FitsHeader(dict):
    """Header keywords as an ordered dict (``COMMENT`` and ``HISTORY`` kept apart in ``comments``)."""

    def __init__(self):
        super().__init__()
        self.comments = []


def _parse_header(read_to, offset):
    # ``read_to(n)`` returns the bytes known so far, at least ``n`` of them unless the file is shorter
    header = FitsHeader()
    pos = offset
    last_string_key = None
    while True:
        buf = read_to(pos + _BLOCK)
        if pos + _BLOCK > len(buf):
            raise FitsFormatError("header ends before its END card (file truncated?)")
        block = buf[pos : pos + _BLOCK].decode("ascii", errors="replace")
        pos += _BLOCK
        for i in range(0, _BLOCK, _CARD):
            card = block[i : i + _CARD]
            key = card[:8].strip()
            if key == "END":
                return header, pos
            if key in ("COMMENT", "HISTORY", ""):
                if key:
                    header.comments.append(card[8:].rstrip())
                continue
            if key == "CONTINUE" and last_string_key is not None:
                more = _parse_value(card[8:])
                prev = header[last_string_key]
                if isinstance(more, str) and isinstance(prev, str) and prev.endswith("&"):
                    header[last_string_key] = prev[:-1] + more
                continue
            if card[8:10] != "= ":
                continue
            value = _parse_value(card[10:])
            header[key] = value
            last_string_key = key if isinstance(value, str) else None


def _data_size(header):
    naxis = int(header.get("NAXIS", 0))
    if naxis == 0:
        return 0
    bitpix = abs(int(header["BITPIX"]))
    count = 1
    for i in range(1, naxis + 1):
        count *= int(header[f"NAXIS{i}"])
    count = (count + int(header.get("PCOUNT", 0))) * int(header.get("GCOUNT", 1))
    return bitpix // 8 * count


class Column:
    """Description of one table column."""

    def __init__(self, name, format, unit, dim):
        self.name = name
        self.format = format
        self.unit = unit
        self.dim = dim

    def __repr__(self):
        return f"Column(name={self.name!r}, format={self.format!r}, unit={self.unit!r})"


class Columns(list):
    """Column descriptions, indexable by position or (case-insensitive) name."""

    @property
    def names(self):
        return [c.name for c in self]

    def __getitem__(self, key):
        if isinstance(key, str):
            for col in self:
                if col.name.upper() == key.upper():
                    return col
            raise KeyError(f"no column {key!r}")
        return super().__getitem__(key)


class TableData:
    """Column access into a binary table: ``data[name]`` gives a native-endian array."""

    def __init__(self, records, columns, scaling):
        self._records = records
        self._columns = columns
        self._scaling = scaling

    def __len__(self):
        return len(self._records)

    @property
    def names(self):
        return self._columns.names

    def __getitem__(self, key):
        col = self._columns[key]
        raw = self._records[col.name]
        if col.format.endswith("L"):
            values = raw == ord("T")
        else:
            values = raw.astype(raw.dtype.newbyteorder("="), copy=True) if raw.dtype.kind in "iufc" else raw
        scale, zero = self._scaling.get(col.name, (1, 0))
        nbits = 8 * values.dtype.itemsize
        if values.dtype.kind == "i" and scale == 1 and zero == 1 << (nbits - 1):
            # Unsigned integers stored with the TZERO offset convention.
            unsigned = np.dtype(f"u{values.dtype.itemsize}")
            values = values.view(unsigned) ^ np.array(1 << (nbits - 1), dtype=unsigned)
        elif scale != 1 or zero != 0:
            values = values * scale + zero
        if col.dim is not None and values.ndim == 2:
            values = values.reshape((len(values),) + tuple(col.dim[::-1]))
        return values


class TableHDU:
    """A binary-table HDU: ``name``, ``header``, ``columns`` and ``data``."""

    def __init__(self, name, header, columns, data, filename=None):
        self.name = name
        self.header = header
        self.columns = columns
        self.data = data
        self._filename = filename

    def fileinfo(self):
        """Mimics astropy: a dict whose ``file`` has the file ``name``."""
        if self._filename is None:
            return None
        return {"file": type("FileName", (), {"name": self._filename})()}

    def __repr__(self):
        return f"TableHDU(name={self.name!r}, rows={len(self.data)}, columns={self.columns.names})"


def _parse_dim(text):
    if not text:
        return None
    try:
        return tuple(int(v) for v in str(text).strip().strip("()").split(","))
    except ValueError:
        return None


def _table(header, buf, offset, filename):
    nfields = int(header.get("TFIELDS", 0))
    row_bytes = int(header["NAXIS1"])
    nrows = int(header["NAXIS2"])
    fields, columns, scaling = [], Columns(), {}
    for i in range(1, nfields + 1):
        name = str(header.get(f"TTYPE{i}", f"col{i}")).strip()
        form = str(header[f"TFORM{i}"]).strip()
        match = _TFORM.match(form)
        if match is None:
            raise FitsFormatError(f"unsupported TFORM{i} = {form!r}")
        repeat = int(match.group(1)) if match.group(1) else 1
        code = match.group(2)
        if code == "A":
            dtype = (f"S{repeat}",)
        elif code == "X":
            dtype = ("u1", ((repeat + 7) // 8,))
        elif code in "PQ":
            dtype = (">i4" if code == "P" else ">i8", (2,))
        else:
            dtype = (_NUMPY[code],) if repeat == 1 else (_NUMPY[code], (repeat,))
        fields.append((name,) + dtype)
        unit = header.get(f"TUNIT{i}")
        unit = unit.strip() if isinstance(unit, str) else unit
        columns.append(Column(name, form, unit, _parse_dim(header.get(f"TDIM{i}"))))
        if f"TSCAL{i}" in header or f"TZERO{i}" in header:
            scaling[name] = (header.get(f"TSCAL{i}", 1), header.get(f"TZERO{i}", 0))
    dtype = np.dtype(fields)
    if dtype.itemsize != row_bytes:
        raise FitsFormatError(f"row size {dtype.itemsize} from TFORM differs from NAXIS1 = {row_bytes}")
    records = np.frombuffer(buf, dtype=dtype, count=nrows, offset=offset) if nrows else np.zeros(0, dtype)
    name = str(header.get("EXTNAME", "")).strip()
    return TableHDU(name, header, columns, TableData(records, columns, scaling), filename)


class BytesSource:
    """The bytes of a whole file, for `TableReader` (tables are views into them, not copies)."""

    def __init__(self, buf):
        self._buf = buf

    def read_to(self, n):
        """All the bytes (the file is complete)."""
        return self._buf

    def region(self, start, end):
        """``(buffer, offset)`` holding bytes ``start:end``."""
        return self._buf, start

    def finish(self):
        """Nothing to check: the bytes are complete."""


class TableReader:
    """The binary tables of a FITS byte stream, parsed in file order only as far as needed.

    Parameters
    ----------
    source : object
        Gives the bytes: ``read_to(n)`` returns the bytes known so far, at least ``n``
        of them unless the stream is shorter; ``region(start, end)`` returns a buffer
        and an offset holding bytes ``start:end``; ``finish()`` checks the stream once
        it has ended (e.g. a gzip checksum). `BytesSource` wraps complete bytes.
    filename : str, optional
        Named by the table HDUs.

    Raises
    ------
    FitsFormatError
        If the stream does not start like a FITS file.
    """

    def __init__(self, source, filename=None):
        self._source, self._filename = source, filename
        self._offset = 0
        self.tables = {}
        self.complete = False
        self._error = None
        if not bytes(source.read_to(9)[:9]).startswith(b"SIMPLE  ="):
            raise FitsFormatError("not a FITS file (no SIMPLE card)")

    def get(self, name):
        """The table HDU named ``name`` (upper case), or None once the whole stream holds none."""
        while name not in self.tables and not self.complete:
            self._advance()
        return self.tables.get(name)

    def read_all(self):
        """``{EXTNAME (upper case): TableHDU}`` of the whole stream."""
        while not self.complete:
            self._advance()
        return self.tables

    def _advance(self):
        if self._error is not None:  # a broken stream stays broken
            raise self._error
        try:
            self._next()
        except Exception as exc:  # (an interrupted source reports that itself on the next read)
            self._error = exc
            raise

    def _next(self):
        offset = self._offset
        buf = self._source.read_to(offset + 8)
        if offset >= len(buf) or not bytes(buf[offset : offset + 8]).strip(b" \x00"):
            self._source.finish()
            self.complete, self._source = True, None
            return
        header, data_start = _parse_header(self._source.read_to, offset)
        size = _data_size(header)
        end = data_start + size
        buf = self._source.read_to(end)
        if end > len(buf):
            raise FitsFormatError(
                f"HDU {header.get('EXTNAME', 'PRIMARY')!r} needs {end} bytes but the file has {len(buf)} (truncated?)"
            )
        if str(header.get("XTENSION", "")).strip() == "BINTABLE":
            data, data_offset = self._source.region(data_start, end)
            hdu = _table(header, data, data_offset, self._filename)
            self.tables.setdefault(hdu.name.upper(), hdu)
        self._offset = data_start + (-(-size // _BLOCK)) * _BLOCK


def read_fits_tables(buf, filename=None):
    """Parse all HDUs of a FITS byte string; binary tables become `TableHDU` objects.

    Returns
    -------
    dict
        ``{EXTNAME (upper case): TableHDU}``; the primary HDU and images are skipped.

    Raises
    ------
    FitsFormatError
        If the bytes are not FITS, a header is incomplete, or data are truncated.
    """
    return TableReader(BytesSource(buf), filename).read_all()
