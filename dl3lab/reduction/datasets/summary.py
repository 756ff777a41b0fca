"""Dataset summaries: `info_dict` figures and the printed text (spec §11)."""

import numpy as np
from astropy import units as u

__all__ = ["info_dict", "format_summary", "energy_profiles", "sky_images", "cash_significance", "correlate_top_hat"]


def _masked_sum(data, mask):
    return float(np.sum(data[mask], dtype=float)) if mask is not None else float(np.sum(data, dtype=float))


def _exposure_range(dataset):
    exposure = dataset.exposure
    if exposure is None:
        return np.nan * u.Unit("m2 s"), np.nan * u.Unit("m2 s")
    data = exposure.data
    if dataset.mask_safe is not None and dataset.mask_safe.geom.data_shape[-2:] == data.shape[-2:]:
        eps_img = dataset.mask_safe.data.any(axis=0)
        select = (data > 0) & eps_img
    else:
        select = data > 0
    values = data[select] if select.any() else data
    return u.Quantity(values.min(), exposure.unit), u.Quantity(values.max(), exposure.unit)


def info_dict(dataset, in_safe_data_range=True):
    """Summary figures of a dataset.

    With ``in_safe_data_range`` the sums run over ``mask_safe`` (all bins if there
    is none). ``background`` is the raw template while ``excess`` uses the
    FoV-corrected background, as in Gammapy.
    """
    mask = dataset.mask_safe.data.astype(bool) if (in_safe_data_range and dataset.mask_safe is not None) else None
    counts = _masked_sum(dataset.counts.data, mask)
    info = {"name": dataset.name, "counts": int(counts)}
    background = getattr(dataset, "background", None)
    if background is not None:
        bkg_sum = _masked_sum(dataset.npred_background().data, mask)
        info["background"] = _masked_sum(background.data, mask)
        info["excess"] = counts - bkg_sum
        with np.errstate(divide="ignore", invalid="ignore"):
            excess = counts - bkg_sum
            ts = 2 * (counts * np.log(counts / bkg_sum) - excess) if counts > 0 else 2 * bkg_sum
            info["sqrt_ts"] = float(np.sign(excess) * np.sqrt(max(ts, 0.0)))
    else:
        bkg_sum = np.nan
        info.update(background=np.nan, excess=np.nan, sqrt_ts=np.nan)
    has_npred = bool(dataset.models) or background is not None
    info["npred"] = _masked_sum(dataset.npred().data, mask) if has_npred else np.nan
    info["npred_background"] = bkg_sum
    info["npred_signal"] = np.nan
    exp_min, exp_max = _exposure_range(dataset)
    info["exposure_min"] = exp_min
    info["exposure_max"] = exp_max
    livetime = dataset.exposure.meta.get("livetime") if dataset.exposure is not None else None
    info["livetime"] = livetime if livetime is not None else np.nan * u.s
    ontime = dataset.gti.time_sum if dataset.gti is not None and len(dataset.gti) else np.nan * u.s
    info["ontime"] = ontime
    info["n_bins"] = int(dataset.counts.data.size)
    info["n_fit_bins"] = int(np.sum(dataset.mask.data)) if dataset.mask is not None else info["n_bins"]
    info["stat_type"] = dataset.stat_type
    info["stat_sum"] = dataset.stat_sum() if dataset.models else np.nan
    return info


def format_summary(dataset):
    """The printed summary, in Gammapy's layout."""
    info = dataset.info_dict()
    title = type(dataset).__name__
    models = dataset.models
    n_par = sum(m.n_parameters for m in models)
    n_free = sum(m.n_free_parameters for m in models)
    npred_signal = info["npred_signal"]
    lines = [
        title,
        "-" * len(title),
        "",
        f"  {'Name':<32s}: {info['name']} ",
        "",
        f"  {'Total counts':<32s}: {info['counts']} ",
        f"  {'Total background counts':<32s}: {info['background']:.2f}",
        f"  {'Total excess counts':<32s}: {info['excess']:.2f}",
        "",
        f"  {'Predicted counts':<32s}: {info['npred']:.2f}",
        f"  {'Predicted background counts':<32s}: {info['npred_background']:.2f}",
        f"  {'Predicted excess counts':<32s}: {npred_signal:.2f}",
        "",
        f"  {'Exposure min':<32s}: {info['exposure_min']:.2e}",
        f"  {'Exposure max':<32s}: {info['exposure_max']:.2e}",
        "",
        f"  {'Number of total bins':<32s}: {info['n_bins']} ",
        f"  {'Number of fit bins':<32s}: {info['n_fit_bins']} ",
        "",
        f"  {'Fit statistic type':<32s}: {info['stat_type']}",
        f"  {'Fit statistic value (-2 log(L))':<32s}: {info['stat_sum']:.2f}",
        "",
        f"  {'Number of models':<32s}: {len(models)} ",
        f"  {'Number of parameters':<32s}: {n_par}",
        f"  {'Number of free parameters':<32s}: {n_free}",
        "",
    ]
    lines += [str(m) for m in models]
    lines += extra_summary_lines(dataset)
    return "\n".join(lines) + "\n"


def extra_summary_lines(dataset):
    """Additional lines for ON/OFF datasets (overridden through ``dataset._summary_extra``)."""
    extra = getattr(dataset, "_summary_extra", None)
    return extra() if extra is not None else []


def energy_profiles(dataset):
    """Counts, predicted background and excess per reco-energy bin, summed inside the safe mask.

    Returns
    -------
    dict
        ``edges`` (TeV), ``counts``, ``background``, ``excess`` and ``safe`` (whether
        any pixel of the bin is in the safe mask), one value per energy bin; ON/OFF
        datasets also give ``counts_off``.
    """
    axis = dataset._geom.axes["energy"]
    n = axis.nbin
    mask = dataset.mask_safe.data if dataset.mask_safe is not None else np.ones(dataset.counts.data.shape, bool)
    counts = np.sum(dataset.counts.data, axis=(1, 2), where=mask, dtype=float)
    background = np.sum(dataset.npred_background().data, axis=(1, 2), where=mask, dtype=float)
    result = {
        "edges": axis.edges.to_value("TeV"),
        "counts": counts,
        "background": background,
        "excess": counts - background,
        "safe": mask.reshape(n, -1).any(axis=1),
    }
    if getattr(dataset, "counts_off", None) is not None:
        result["counts_off"] = np.sum(dataset.counts_off.data, axis=(1, 2), where=mask, dtype=float)
    return result


def cash_significance(n_on, mu_bkg):
    """Signed Poisson (Cash) significance of ``n_on`` counts over a known background ``mu_bkg``.

    ``sign(n - mu) * sqrt(2 * (n * ln(n / mu) - (n - mu)))``; 0 where ``mu <= 0``.
    """
    n_on = np.asarray(n_on, dtype=float)
    mu_bkg = np.asarray(mu_bkg, dtype=float)
    valid = mu_bkg > 0
    mu = np.where(valid, mu_bkg, 1.0)
    log_term = np.where(n_on > 0, n_on * np.log(np.where(n_on > 0, n_on, 1.0) / mu), 0.0)
    ts = np.clip(2 * (log_term - (n_on - mu)), 0, None)
    return np.where(valid, np.sign(n_on - mu) * np.sqrt(ts), 0.0)


def correlate_top_hat(images, geom, radius):
    """Sum each image over a disk of ``radius`` around every pixel (zero outside the map).

    Parameters
    ----------
    images : sequence of 2-D arrays
        Images on ``geom``.
    geom : `~dl3lab.reduction.geom.WcsGeom`
        Their 2-D geometry (its mean pixel size converts ``radius`` to pixels).
    radius : `~astropy.units.Quantity`
        Disk radius; 0 returns the images unchanged.

    Returns
    -------
    list of arrays
    """
    radius_pix = float(u.Quantity(radius, "deg").value / np.abs(geom.pixel_scales.to_value("deg")).mean())
    if radius_pix <= 0:
        return list(images)
    from scipy.ndimage import convolve

    r = int(np.ceil(radius_pix))
    y, x = np.mgrid[-r:r + 1, -r:r + 1]
    kernel = (x ** 2 + y ** 2 <= radius_pix ** 2).astype(float)
    return [convolve(image, kernel, mode="constant", cval=0.0) for image in images]


def sky_images(dataset, correlation_radius=0.1 * u.deg):
    """Images for display: counts, predicted background and excess summed inside the safe mask, the
    significance of the counts correlated within ``correlation_radius``, and the safe-mask coverage
    (1 where any energy bin is safe).

    Parameters
    ----------
    dataset : `~dl3lab.reduction.MapDataset`
        The dataset.
    correlation_radius : `~astropy.units.Quantity`
        Radius of the top-hat used for the significance image (0 for per-pixel values).

    Returns
    -------
    dict
        ``{"counts", "background", "excess", "significance", "safe_mask"}`` -> 2-D
        `~dl3lab.reduction.maps.Map`.
    """
    from ..maps import Map

    geom = dataset._geom.to_image()
    mask = dataset.mask_safe.data if dataset.mask_safe is not None else np.ones(dataset.counts.data.shape, bool)
    counts = np.sum(dataset.counts.data, axis=0, where=mask, dtype=float)
    background = np.sum(dataset.npred_background().data, axis=0, where=mask, dtype=float)
    n_on, mu = correlate_top_hat([counts, background], geom, correlation_radius)
    return {
        "counts": Map.from_geom(geom, data=counts),
        "background": Map.from_geom(geom, data=background),
        "excess": Map.from_geom(geom, data=counts - background),
        "significance": Map.from_geom(geom, data=cash_significance(n_on, mu)),
        "safe_mask": Map.from_geom(geom, data=mask.any(axis=0).astype(np.float32)),
    }
