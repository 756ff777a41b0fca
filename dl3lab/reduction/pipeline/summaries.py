"""Plot-ready figures of ON/OFF results: per-energy spectra and sky images with WStat significance.

For ON/OFF datasets the background is measured: ``alpha * counts_off``. These
helpers use it (rather than the WStat profile background that
`MapDatasetOnOff.npred_background` gives), as the excess and significance of an
ON/OFF measurement are usually shown.
"""

import numpy as np
from astropy import units as u

from ..datasets.stat import wstat
from ..datasets.summary import correlate_top_hat

__all__ = ["onoff_spectrum", "onoff_images", "wstat_significance"]


def wstat_significance(n_on, n_off, alpha):
    """Signed WStat (Li & Ma) significance of ``n_on`` against ``alpha * n_off``, element-wise.

    ``sign(excess) * sqrt(W(0) - W(excess))`` with ``W`` the WStat deviance and
    ``excess = n_on - alpha n_off``; 0 where ``alpha`` or ``n_off`` is not positive
    and ``n_on`` is 0.
    """
    n_on, n_off, alpha = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (n_on, n_off, alpha)))
    excess = n_on - alpha * n_off
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ts = np.nan_to_num(wstat(n_on, n_off, alpha, 0.0) - wstat(n_on, n_off, alpha, excess))
    return np.sign(excess) * np.sqrt(np.clip(ts, 0, None))


def _onoff_arrays(dataset):
    """Safe mask, ON counts, OFF counts and ``alpha * counts_off`` as float arrays (zero outside the mask)."""
    shape = dataset._geom.data_shape
    mask = dataset.mask_safe.data.astype(bool) if dataset.mask_safe is not None else np.ones(shape, bool)
    counts = np.where(mask, dataset.counts.data, 0.0)
    if dataset.counts_off is None:
        return mask, counts, np.zeros(shape), np.zeros(shape)
    off = np.where(mask, dataset.counts_off.data, 0.0)
    background = np.where(mask, dataset.alpha.data * dataset.counts_off.data, 0.0)
    return mask, counts, off, background


def _alpha(background, off):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(off > 0, background / np.where(off > 0, off, 1.0), 0.0)


def onoff_spectrum(dataset):
    """ON and OFF counts per reco-energy bin of an ON/OFF dataset, summed inside the safe mask.

    Parameters
    ----------
    dataset : `~dl3lab.reduction.SpectrumDatasetOnOff` or `~dl3lab.reduction.MapDatasetOnOff`
        The ON/OFF dataset (spatial bins are summed).

    Returns
    -------
    dict
        ``edges`` (TeV), ``counts``, ``counts_off``, ``alpha`` (``background /
        counts_off``, 0 without OFF counts), ``background`` (``alpha * counts_off``),
        ``excess``, ``significance`` (WStat) and ``safe`` (any safe bin), one value per
        energy bin.
    """
    axis = dataset._geom.axes["energy"]
    mask, counts, off, background = _onoff_arrays(dataset)
    n = axis.nbin
    counts, off, background = (a.reshape(n, -1).sum(axis=1) for a in (counts, off, background))
    alpha = _alpha(background, off)
    return {
        "edges": axis.edges.to_value("TeV"),
        "counts": counts,
        "counts_off": off,
        "alpha": alpha,
        "background": background,
        "excess": counts - background,
        "significance": wstat_significance(counts, off, alpha),
        "safe": mask.reshape(n, -1).any(axis=1),
    }


def onoff_images(dataset, correlation_radius=0.1 * u.deg):
    """Sky images of a `~dl3lab.reduction.MapDatasetOnOff` (e.g. a ring-background result).

    ON counts, OFF counts and ``alpha * counts_off`` are summed over the safe energy
    bins and correlated with a top-hat of ``correlation_radius``; the significance
    is WStat's for those correlated counts, with ``alpha`` their ratio.

    Returns
    -------
    dict
        ``{"counts", "background", "excess", "significance", "alpha", "safe_mask"}`` ->
        2-D `~dl3lab.reduction.maps.Map`.
    """
    from ..maps import Map

    geom = dataset._geom.to_image()
    mask, counts, off, background = (a.sum(axis=0) if a.dtype != bool else a.any(axis=0)
                                     for a in _onoff_arrays(dataset))
    counts, off, background = correlate_top_hat([counts, off, background], geom, correlation_radius)
    alpha = _alpha(background, off)
    return {
        "counts": Map.from_geom(geom, data=counts),
        "background": Map.from_geom(geom, data=background),
        "excess": Map.from_geom(geom, data=counts - background),
        "significance": Map.from_geom(geom, data=wstat_significance(counts, off, alpha)),
        "alpha": Map.from_geom(geom, data=alpha),
        "safe_mask": Map.from_geom(geom, data=mask.astype(np.float32)),
    }
