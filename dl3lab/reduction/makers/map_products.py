"""Per-observation products on a WCS geometry: counts, exposure, background, PSF and EDisp maps (spec §4).

Every function is a pure function of the observation's data and the target
geometry, vectorised over pixels and energies.
"""

import numpy as np
from astropy import units as u

from .irf_projection import SeparableIRF, evaluate_separable, outside_edges
from .sky import events_in_frame, pointing_offsets

__all__ = [
    "fill_counts",
    "pointing_offsets",
    "make_exposure_data",
    "make_psf_data",
    "make_edisp_kernel_data",
    "make_edisp_map_data",
]

EDISP_KERNEL_THRESHOLD = 1e-8
M2_S = u.Unit("m2 s")
SR_INV = u.Unit("sr-1")


def fill_counts(geom, events):
    """Histogram events into a WCS geometry with a reco ``energy`` axis.

    Bin ``i`` covers pixel coordinates ``[i - 1/2, i + 1/2)``; the energy lower edge
    is included and the upper edge excluded.
    """
    lon, lat = events_in_frame(events, geom.frame)
    x, y = geom.wcs.wcs_world2pix(lon, lat, 0)
    nx, ny = (int(n) for n in np.ravel(geom.npix)[:2])
    energy_axis = geom.axes["energy"]
    ie = energy_axis.coord_to_bin(events.energy_tev * u.TeV)
    with np.errstate(invalid="ignore"):
        ix = np.floor(np.asarray(x) + 0.5)
        iy = np.floor(np.asarray(y) + 0.5)
    valid = (ie >= 0) & np.isfinite(ix) & np.isfinite(iy) & (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
    flat = (ie[valid] * ny + iy[valid].astype(np.int64)) * nx + ix[valid].astype(np.int64)
    counts = np.bincount(flat, minlength=energy_axis.nbin * ny * nx)
    return counts.reshape(energy_axis.nbin, ny, nx).astype(np.float32)


def make_exposure_data(aeff, energy_true_axis, offsets, livetime, dtype=np.float64):
    """``A_eff(E'_centre, offset) * livetime`` in m2 s, shape ``(n_E',) + offsets.shape``.

    Computed in float64; ``dtype`` is the dtype of the result.
    """
    energy = energy_true_axis.center.to_value(aeff.axes["energy_true"].unit)
    factor = (u.Unit(aeff.unit) * u.Quantity(livetime)).to_value(M2_S)
    return evaluate_separable(aeff, {"energy_true": energy}, {"offset": offsets}, factor=factor, dtype=dtype)


def make_psf_data(psf, energy_true_axis, rad_axis, offsets, dtype=np.float64):
    """PSF map ``(n_E', n_rad) + offsets.shape`` in deg-2, normalised over rad (spec §4.4).

    The PSF is evaluated at the true-energy and rad bin centres, then divided by
    ``sum(2 pi r dr P)`` over the rad axis; empty columns become 0. ``dtype`` is the
    dtype of the result (the values are computed in float64).

    For a PSF table the interpolated values are linear in the offset weights, and so
    is their normalisation: with node tables ``P_a``, ``P_b`` and node norms
    ``N_a``, ``N_b``, a pixel with weight ``w`` gets
    ``((1 - w) P_a + w P_b) / ((1 - w) N_a + w N_b)``, computed as a combination of
    the normalised node tables. Pixels where that shortcut would not be exact (offset
    extrapolation, negative table values) are evaluated directly.
    """
    energy = energy_true_axis.center.to_value(psf.axes["energy_true"].unit)
    rad_c = rad_axis.center.to_value("deg")
    weights = 2 * np.pi * rad_c * rad_axis.bin_width.to_value("deg")
    flat = np.ravel(np.asarray(offsets, dtype=float))
    if psf.tag in ("psf_3gauss", "psf_king"):
        values = psf.evaluate(
            energy_true=energy[:, None, None] * psf.axes["energy_true"].unit,
            offset=flat[None, None, :] * u.deg,
            rad=rad_c[None, :, None] * u.deg,
        ).to_value(SR_INV)
        data = _normalised_over_rad(values, weights).astype(dtype, copy=False)
    else:
        data = _psf_table_data(psf, energy, rad_axis.center.to_value(psf.axes["rad"].unit), weights, flat, dtype)
    return data.reshape(data.shape[:2] + np.shape(offsets))


def _normalised_over_rad(values, weights):
    """``values / sum(values * weights)`` over axis 1 (rad), in place; empty columns become 0."""
    norm = np.einsum("erp,r->ep", values, weights)[:, None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        np.divide(values, norm, out=values)
    values[np.broadcast_to(norm == 0, values.shape)] = 0.0
    return values


def _psf_table_data(psf, energy, rad, weights, offsets, dtype):
    """Normalised PSF table values ``(n_E', n_rad, P)`` at the flat ``offsets`` (see `make_psf_data`)."""
    fixed = {"energy_true": energy, "rad": rad}
    offset_axis = psf.axes["offset"]
    nodes = offset_axis.center.to_value(offset_axis.unit)
    sep = SeparableIRF(psf, fixed, ["offset"])
    node_values = evaluate_separable(sep, None, {"offset": nodes}, clip=False)  # (n_E', n_rad, n_nodes)
    node_ok = np.all(node_values >= 0, axis=(0, 1))
    node_norm = np.einsum("ern,r->en", node_values, weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        node_shape = np.where(node_norm[:, None, :] > 0, node_values / node_norm[:, None, :], 0.0)
    idx, idx1, w, inside, exact = _node_pixels(offset_axis, nodes, node_ok, offsets)
    data = np.empty((len(energy), len(rad), len(offsets)), dtype)
    # Every pixel is combined (weights 0 where not exact), so whole planes are written; pixels that are
    # not exact are then zero, and those inside the edges are overwritten below.
    part_a = np.where(exact, node_norm[:, idx] * (1 - w), 0.0)
    part_b = np.where(exact, node_norm[:, idx1] * w, 0.0)
    total = part_a + part_b
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = np.where(total > 0, part_a / total, 0.0)
        beta = np.where(total > 0, part_b / total, 0.0)
    for k in range(len(energy)):  # one true energy at a time: the temporaries stay in the CPU cache
        plane = np.take(node_shape[k], idx, axis=1)
        plane *= alpha[k]
        other = np.take(node_shape[k], idx1, axis=1)
        other *= beta[k]
        plane += other
        data[k] = plane
    rest = np.flatnonzero(inside & ~exact)
    if len(rest):
        values = evaluate_separable(sep, None, {"offset": offsets[rest]})
        data[:, :, rest] = _normalised_over_rad(values, weights)
    return data


def _node_pixels(offset_axis, nodes, node_ok, offsets):
    """How the flat ``offsets`` combine the IRF's offset nodes.

    Returns the lower and upper node index, the linear weight between them, whether
    the offset lies inside the axis edges, and whether the node combination is exact
    there (no extrapolation, and both nodes free of negative values, ``node_ok``).
    """
    if len(nodes) == 1:
        idx = idx1 = np.zeros(len(offsets), dtype=np.intp)
        w = np.zeros(len(offsets))
    else:
        idx = np.clip(np.searchsorted(nodes, offsets, side="right") - 1, 0, len(nodes) - 2)
        idx1 = idx + 1
        w = (offsets - nodes[idx]) / (nodes[idx1] - nodes[idx])
    inside = ~outside_edges(offset_axis, offsets)
    exact = inside & (w >= 0) & (w <= 1) & node_ok[idx] & node_ok[idx1]
    return idx, idx1, w, inside, exact


def _normalised_migration(sep, offsets):
    """Migration probability per IRF migra bin (density times width), normalised: ``(n_E', n_mu, P)``.

    ``sep`` is the energy dispersion as a `SeparableIRF` at the true energies and the migra centres.
    """
    migra_axis = sep.irf.axes["migra"]
    values = evaluate_separable(sep, None, {"offset": np.ravel(offsets)})
    width = migra_axis.bin_width.to_value(migra_axis.unit)[None, :, None]
    weighted = values * width
    norm = weighted.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(weighted / norm)


def make_edisp_kernel_data(edisp, energy_true_axis, energy_axis, offsets):
    """Energy-dispersion kernel ``(n_E', n_E) + offsets.shape`` (spec §4.5).

    For each pixel and true energy the migration density on the IRF's migra bins is
    normalised, its cumulative distribution ``C`` at the migra edges is interpolated
    linearly (constant outside) at ``E_j / E'_k`` for the reco edges ``E_j``, and the
    kernel is ``C(E_{j+1}/E'_k) - C(E_j/E'_k)``, zeroed below 1e-8.

    The density is linear in the offset-interpolation weights wherever no clipping
    at zero occurs, and so are its integrals. The kernel is therefore computed once
    per IRF offset node and combined per pixel; pixels where that shortcut would
    not be exact (offset extrapolation, negative interpolated values) are computed
    directly.
    """
    unit = edisp.axes["energy_true"].unit
    e_true = energy_true_axis.center.to_value(unit)
    e_reco = energy_axis.edges.to_value(unit)
    migra_axis, offset_axis = edisp.axes["migra"], edisp.axes["offset"]
    migra_edges = migra_axis.edges.to_value(migra_axis.unit)
    width = migra_axis.bin_width.to_value(migra_axis.unit)[None, :, None]
    nodes = offset_axis.center.to_value(offset_axis.unit)
    flat = np.ravel(np.asarray(offsets, dtype=float))
    fixed = {"energy_true": e_true, "migra": migra_axis.center.to_value(migra_axis.unit)}
    sep = SeparableIRF(edisp, fixed, ["offset"], oob_mode="edisp")
    node_density = evaluate_separable(sep, None, {"offset": nodes}, clip=False)
    node_ok = np.all(node_density >= 0, axis=(0, 1))
    node_prob = node_density * width
    node_norm = node_prob.sum(axis=1)
    node_kernel = kernel_from_migration(node_prob, migra_edges, e_true, e_reco, threshold=None)

    kernel = np.zeros((len(e_true), len(e_reco) - 1, len(flat)))
    idx, idx1, w, inside, exact = _node_pixels(offset_axis, nodes, node_ok, flat)
    if exact.any():
        sel = np.flatnonzero(exact)
        we = w[sel]
        num = node_kernel[:, :, idx[sel]] * (1 - we) + node_kernel[:, :, idx1[sel]] * we
        den = node_norm[:, idx[sel]] * (1 - we) + node_norm[:, idx1[sel]] * we
        with np.errstate(invalid="ignore", divide="ignore"):
            kernel[:, :, sel] = np.nan_to_num(num / den[:, None, :])
    rest = np.flatnonzero(inside & ~exact)
    if len(rest):
        probability = _normalised_migration(sep, flat[rest])
        kernel[:, :, rest] = kernel_from_migration(probability, migra_edges, e_true, e_reco, threshold=None)
    kernel[kernel < EDISP_KERNEL_THRESHOLD] = 0.0
    return kernel.reshape((len(e_true), energy_axis.nbin) + np.shape(offsets))


def kernel_from_migration(probability, migra_edges, e_true, e_reco_edges, threshold=EDISP_KERNEL_THRESHOLD):
    """Kernel ``(n_E', n_E, ...)`` from migration probabilities per migra bin ``(n_E', n_mu, ...)``.

    The cumulative distribution at the migra edges is interpolated linearly, constant
    outside, at ``E_j / E'_k``; entries below ``threshold`` are zeroed (None: no threshold).
    """
    n_true, n_mu = probability.shape[:2]
    rest = probability.shape[2:]
    cumulative = np.zeros((n_true, n_mu + 1) + rest)
    np.cumsum(probability, axis=1, out=cumulative[:, 1:])
    mu = e_reco_edges[None, :] / e_true[:, None]
    idx = np.clip(np.searchsorted(migra_edges, mu, side="right") - 1, 0, n_mu - 1)
    frac = np.clip((mu - migra_edges[idx]) / (migra_edges[idx + 1] - migra_edges[idx]), 0, 1)
    rows = np.arange(n_true)[:, None]
    c0 = cumulative[rows, idx]
    c1 = cumulative[rows, idx + 1]
    at_edges = c0 + (c1 - c0) * frac.reshape(frac.shape + (1,) * len(rest))
    kernel = np.clip(np.diff(at_edges, axis=1), 0, None)
    if threshold is not None:
        kernel[kernel < threshold] = 0.0
    return kernel


def _migration_to_kernel(density, migra_axis, energy_true_axis, energy_axis):
    """Kernel ``(n_E', n_E)`` from a migration density ``(n_E', n_mu)`` on ``migra_axis``."""
    probability = density * migra_axis.bin_width.to_value("")[None, :]
    return kernel_from_migration(
        probability,
        migra_axis.edges.to_value(""),
        energy_true_axis.center.to_value("TeV"),
        energy_axis.edges.to_value("TeV"),
    )


def make_edisp_map_data(edisp, energy_true_axis, migra_axis, offsets):
    """Migration density on ``migra_axis`` centres, ``(n_E', n_mu) + offsets.shape``, normalised over it."""
    e_true = energy_true_axis.center.to_value(edisp.axes["energy_true"].unit)
    migra = migra_axis.center.to_value("")
    values = evaluate_separable(
        edisp, {"energy_true": e_true, "migra": migra}, {"offset": np.ravel(offsets)}, oob_mode="edisp"
    )
    width = migra_axis.bin_width.to_value("")[None, :, None]
    norm = (values * width).sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        data = np.nan_to_num(values / norm)
    return data.reshape(data.shape[:2] + np.shape(offsets))
