"""`FoVBackgroundMaker`: normalise the background template to the data outside exclusions (spec §6)."""

import warnings

import numpy as np
import traitlets
from scipy.optimize import minimize

from ..datasets.background_model import FoVBackgroundModel
from ..maps import Map
from .core import Maker
from .mask_projection import project_mask
from .traits import OptionalInstance

__all__ = ["FoVBackgroundMaker"]


def _is_mask_map(value):
    return hasattr(value, "geom") and hasattr(value, "data") and np.asarray(value.data).dtype == bool


class FoVBackgroundMaker(Maker):
    """Scale or fit the background template of a map dataset outside excluded regions.

    Parameters
    ----------
    method : {"scale", "fit"}
        ``scale`` sets ``norm = (N - S) / B``; ``fit`` maximises the Poisson (Cash)
        likelihood of the norm, and of the tilt when ``fit_tilt`` is set.
    exclusion_mask : `~dl3lab.reduction.maps.Map`, optional
        Boolean map, True where the data may be used. Pixels outside its footprint
        count as excluded.
    fit_tilt : bool
        Also fit the spectral tilt (``fit`` method only).
    min_counts : float
        Minimum number of counts in the unexcluded safe region.
    min_npred_background : float
        Minimum predicted background there.
    """

    tag = "FoVBackgroundMaker"

    method = traitlets.Enum(["scale", "fit"], default_value="scale")
    exclusion_mask = OptionalInstance(_is_mask_map, "a boolean Map")
    spectral_model = traitlets.Enum(["pl-norm"], default_value="pl-norm")
    fit_tilt = traitlets.Bool(False)
    min_counts = traitlets.Float(0.0, min=0.0)
    min_npred_background = traitlets.Float(0.0, min=0.0)

    def make_default_fov_background_model(self, dataset):
        """A fresh background model for ``dataset`` (norm 1, tilt 0)."""
        return FoVBackgroundModel(dataset.name, tilt_frozen=not self.fit_tilt)

    def make_exclusion_mask(self, dataset, exclusion_mask=None):
        """Exclusion mask projected onto the counts geometry (nearest bin; outside = excluded)."""
        geom = dataset._geom
        mask = self.exclusion_mask if exclusion_mask is None else exclusion_mask
        if mask is None:
            return np.ones(geom.data_shape, bool)
        return project_mask(mask, geom, fill_value=False)

    def run(self, dataset, observation=None, exclusion_mask=None):
        """Set the dataset's FoV background model (in place) and return the dataset.

        ``exclusion_mask``, if given, is used instead of the maker's own (so a
        pipeline can supply the mask it derives from its exclusion regions).
        """
        if getattr(dataset._geom, "is_region", False):
            raise TypeError("FoVBackgroundMaker works on map datasets only, not on region (spectrum) datasets")
        mask_fit_saved = dataset.mask_fit
        exclusion = self.make_exclusion_mask(dataset, exclusion_mask)
        fit_data = exclusion if mask_fit_saved is None else (mask_fit_saved.data & exclusion)
        dataset.mask_fit = Map.from_geom(dataset._geom, data=fit_data, dtype=bool)
        if dataset.background_model is None:
            dataset.models = [self.make_default_fov_background_model(dataset)]
        try:
            if self.method == "scale":
                self._scale(dataset)
            else:
                self._fit(dataset)
        finally:
            dataset.mask_fit = mask_fit_saved
        return dataset

    def _sums(self, dataset):
        """Counts and predicted background summed over the safe, unexcluded, finite bins."""
        template = dataset.background.data
        mask = dataset.mask.data
        with np.errstate(invalid="ignore"):
            if not np.isfinite(np.sum(template)):  # only then may there be NaN to leave out
                mask = mask & ~np.isnan(template)
        counts = float(np.sum(dataset.counts.data, where=mask, dtype=float))
        factor = dataset._background_factor()
        per_energy = np.sum(template, axis=(1, 2), where=mask, dtype=float)
        background = float(np.sum(per_energy * (1.0 if factor is None else factor.ravel())))
        return counts, background, mask

    def _fail(self, dataset, reason):
        warnings.warn(
            f"FoVBackgroundMaker failed for dataset {dataset.name!r}: {reason}. Setting mask_safe to all False.",
            stacklevel=4,
        )
        dataset.mask_safe = Map.from_geom(dataset._geom, data=np.zeros(dataset._geom.data_shape, bool), dtype=bool)

    def _check(self, dataset, counts, background):
        if background == 0 or not np.isfinite(counts / background):
            return f"non-finite norm (counts {counts}, background {background})"
        if background <= self.min_npred_background:
            return f"background {background:.4g} <= min_npred_background {self.min_npred_background}"
        if counts <= self.min_counts:
            return f"counts {counts:.0f} <= min_counts {self.min_counts}"
        if counts <= 0:
            return "no counts outside the exclusion"
        return None

    def _scale(self, dataset):
        counts, background, _ = self._sums(dataset)
        reason = self._check(dataset, counts, background)
        if reason is not None:
            return self._fail(dataset, reason)
        # Divide out the current norm so that running the maker again gives the same result.
        model = dataset.background_model
        unit_background = background / model.norm
        model.norm = counts / unit_background
        model.norm_error = np.sqrt(counts) / unit_background

    def _fit(self, dataset):
        counts, background, mask = self._sums(dataset)
        reason = self._check(dataset, counts, background)
        if reason is not None:
            return self._fail(dataset, reason)
        model = dataset.background_model
        n = dataset.counts.data[mask].astype(float)
        template = dataset.background.data
        energy = dataset._geom.axes["energy"].center.to_value("TeV")
        log_e = np.broadcast_to(np.log(energy / model.reference_tev).reshape(-1, 1, 1), template.shape)[mask]
        b = template[mask]
        if model.tilt_frozen:
            b_eff = b * np.exp(-model.tilt * log_e)
            total = b_eff.sum()
            model.norm = n.sum() / total
            model.norm_error = np.sqrt(n.sum()) / total
            return
        success, norm, tilt, errors = _fit_norm_tilt(n, b, log_e, model.norm, model.tilt)
        if not success:
            return self._fail(dataset, "the likelihood fit did not converge")
        model.norm, model.tilt = norm, tilt
        model.norm_error, model.tilt_error = errors


def _fit_norm_tilt(n, b, log_e, norm0, tilt0):
    """Maximum-likelihood norm and tilt of ``mu = norm * b * exp(-tilt * log_e)`` for Poisson counts ``n``."""

    def cost(p):
        log_norm, tilt = p
        mu = b * np.exp(log_norm - tilt * log_e)
        mu_safe = np.maximum(mu, 1e-25)
        value = 2 * np.sum(mu_safe - n * np.log(mu_safe))
        resid = 2 * (mu - n)
        grad = np.array([np.sum(resid), -np.sum(resid * log_e)])
        return value, grad

    result = minimize(cost, x0=[np.log(max(norm0, 1e-6)), tilt0], jac=True, method="BFGS", options={"gtol": 1e-9})
    log_norm, tilt = result.x
    norm = float(np.exp(log_norm))
    mu = b * norm * np.exp(-tilt * log_e)
    # Fisher information of (norm, tilt) for the Poisson likelihood.
    d_norm = mu / norm
    d_tilt = -mu * log_e
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(mu > 0, 1 / mu, 0)
        fisher = np.array(
            [[np.sum(w * d_norm**2), np.sum(w * d_norm * d_tilt)], [np.sum(w * d_norm * d_tilt), np.sum(w * d_tilt**2)]]
        )
        cov = np.linalg.pinv(fisher)
    errors = (float(np.sqrt(max(cov[0, 0], 0))), float(np.sqrt(max(cov[1, 1], 0))))
    return bool(result.success or np.allclose(result.jac, 0, atol=1e-5)), norm, float(tilt), errors
