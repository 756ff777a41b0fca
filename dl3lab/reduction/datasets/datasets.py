"""`Datasets`: an ordered collection of datasets with unique names."""

__all__ = ["Datasets"]


def _instrument(dataset):
    table = getattr(dataset, "meta_table", None)
    if table is None or "TELESCOP" not in table.colnames or len(table) == 0:
        return ""
    value = table["TELESCOP"][0]
    if hasattr(value, "__len__") and not isinstance(value, str):
        values = sorted({str(v) for v in value})
        return values[0] if len(values) == 1 else ",".join(values)
    return str(value)


class Datasets(list):
    """A list of datasets, also indexable by dataset name.

    Parameters
    ----------
    datasets : iterable or dataset, optional
        Initial datasets; names must be unique.
    """

    def __init__(self, datasets=None):
        super().__init__()
        if datasets is None:
            return
        if not isinstance(datasets, list | tuple | Datasets):
            datasets = [datasets]
        for dataset in datasets:
            self.append(dataset)

    @property
    def names(self):
        """Dataset names in order."""
        return [d.name for d in self]

    def append(self, dataset):
        """Add a dataset; its name must not be taken."""
        if dataset.name in self.names:
            raise ValueError(f"a dataset named {dataset.name!r} is already in this collection")
        super().append(dataset)

    def extend(self, datasets):
        """Append several datasets."""
        for dataset in datasets:
            self.append(dataset)

    def index(self, key, *args):
        if isinstance(key, str):
            return self.names.index(key)
        return super().index(key, *args)

    def __getitem__(self, key):
        if isinstance(key, str):
            return super().__getitem__(self.names.index(key))
        result = super().__getitem__(key)
        return Datasets(result) if isinstance(key, slice) else result

    def __contains__(self, item):
        if isinstance(item, str):
            return item in self.names
        return super().__contains__(item)

    def stack_reduce(self, name=None):
        """Stack all datasets into a copy of the first one."""
        if not len(self):
            raise ValueError("no datasets to stack")
        from .stack_engine import stack_datasets

        return stack_datasets(self[1:], self[0], name=name)

    def write(self, filename, overwrite=False):
        """Write every dataset to ``<name>.fits`` beside the YAML index ``filename``.

        All files are written under temporary names and renamed at the end; existing
        files are only replaced with ``overwrite=True``.
        """
        from .io.index import write_datasets

        write_datasets(self, filename, overwrite=overwrite)

    @classmethod
    def read(cls, filename):
        """Read datasets from a YAML index written by :meth:`write` (or by Gammapy)."""
        from .io.index import read_datasets

        return read_datasets(filename)

    def info_table(self):
        """One row of summary figures per dataset, as an astropy Table."""
        from astropy.table import Table

        rows = [d.info_dict() for d in self]
        return Table(rows=[[row[k] for k in rows[0]] for row in rows], names=list(rows[0])) if rows else Table()

    def __str__(self):
        lines = ["Datasets", "--------", ""]
        for idx, dataset in enumerate(self):
            models = [m.name for m in dataset.models]
            lines += [
                f"Dataset {idx}: ",
                "",
                f"  Type       : {dataset.tag}",
                f"  Name       : {dataset.name}",
                f"  Instrument : {_instrument(dataset)}",
                f"  Models     : {models if models else ''}",
                "",
            ]
        return "\n".join(lines) + "\n"

    def __repr__(self):
        return f"Datasets({self.names})"
