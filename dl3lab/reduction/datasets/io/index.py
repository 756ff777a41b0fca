"""The `Datasets` YAML index: one entry per dataset file, in Gammapy's layout."""

from pathlib import Path

import yaml

from ...errors import DataFormatError
from .atomic import atomic_paths
from .gadf import dataset_to_hdulist, read_dataset

__all__ = ["write_datasets", "read_datasets"]


def _model_entry(dataset):
    model = dataset.background_model
    if model is None:
        return None
    return {
        "type": "FoVBackgroundModel",
        "norm": float(model.norm),
        "tilt": float(model.tilt),
        "reference_tev": float(model.reference_tev),
        "norm_error": float(model.norm_error),
        "tilt_error": float(model.tilt_error),
        "tilt_frozen": bool(model.tilt_frozen),
    }


def write_datasets(datasets, filename, overwrite=False):
    """Write each dataset to ``<name>.fits`` beside ``filename`` and the YAML index to ``filename``.

    Every file is written to a temporary name first and all are renamed at the end,
    so a failure leaves neither partial files nor a half-updated set.
    """
    index_path = Path(filename)
    directory = index_path.parent
    entries, paths, hdulists = [], [], []
    for dataset in datasets:
        path = directory / f"{dataset.name}.fits"
        hdulists.append(dataset_to_hdulist(dataset))
        paths.append(path)
        entry = {"name": dataset.name, "type": dataset.tag, "filename": path.name, "format": "gadf"}
        model = _model_entry(dataset)
        if model is not None:
            entry["background_model"] = model
        entries.append(entry)
    text = yaml.safe_dump({"datasets": entries}, sort_keys=False)
    with atomic_paths(paths + [index_path], overwrite=overwrite) as temporary:
        for hdulist, tmp in zip(hdulists, temporary):
            hdulist.writeto(tmp)
        temporary[-1].write_text(text)


def read_datasets(filename):
    """Read the datasets listed in a YAML index (paths relative to the index file)."""
    from ..background_model import FoVBackgroundModel
    from ..datasets import Datasets

    index_path = Path(filename)
    try:
        content = yaml.safe_load(index_path.read_text())
    except FileNotFoundError:
        raise
    except yaml.YAMLError as exc:
        raise DataFormatError(f"not a YAML datasets index: {exc}", filename=index_path) from exc
    if not isinstance(content, dict) or not isinstance(content.get("datasets"), list):
        raise DataFormatError("datasets index has no 'datasets' list", filename=index_path)
    result = Datasets()
    for entry in content["datasets"]:
        if not isinstance(entry, dict) or "filename" not in entry:
            raise DataFormatError(f"datasets index entry without a filename: {entry!r}", filename=index_path)
        path = index_path.parent / entry["filename"]
        if not path.exists():
            raise DataFormatError(f"dataset file {entry['filename']!r} listed in the index is missing",
                                  filename=index_path)
        dataset = read_dataset(path, name=entry.get("name"))
        model = entry.get("background_model")
        if model:
            dataset.models = [FoVBackgroundModel(
                dataset.name, norm=model["norm"], tilt=model["tilt"], reference_tev=model["reference_tev"],
                norm_error=model.get("norm_error", 0.0), tilt_error=model.get("tilt_error", 0.0),
                tilt_frozen=model.get("tilt_frozen", True),
            )]
        result.append(dataset)
    return result
