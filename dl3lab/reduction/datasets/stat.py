"""Poisson fit statistics (Cash and WStat), as -2 log L per bin."""

import numpy as np
from scipy.special import xlogy

__all__ = ["cash", "wstat", "wstat_profile_background"]

_TRUNCATION = 1e-25


def cash(n_on, mu_on):
    """Cash statistic per bin, ``2 (mu - n ln mu)`` with ``mu`` truncated at 1e-25."""
    mu_on = np.where(mu_on <= _TRUNCATION, _TRUNCATION, mu_on)
    return 2 * (mu_on - n_on * np.log(mu_on))


def wstat_profile_background(n_on, n_off, alpha, mu_sig=0.0):
    """Background (OFF-region) expectation that maximises the ON/OFF Poisson likelihood."""
    n_on, n_off, alpha, mu_sig = (np.asarray(a, dtype=float) for a in (n_on, n_off, alpha, mu_sig))
    c = alpha * (n_on + n_off) - (1 + alpha) * mu_sig
    d = np.sqrt(c**2 + 4 * alpha * (alpha + 1) * n_off * mu_sig)
    with np.errstate(divide="ignore", invalid="ignore"):
        mu_bkg = (c + d) / (2 * alpha * (alpha + 1))
    return np.clip(np.nan_to_num(mu_bkg), 0, None)


def wstat(n_on, n_off, alpha, mu_sig=0.0):
    """WStat per bin: Poisson deviance of ON and OFF counts with the background profiled.

    ``2 [mu_on + mu_bkg - n_on - n_off + n_on ln(n_on/mu_on) + n_off ln(n_off/mu_bkg)]``
    with ``mu_on = mu_sig + alpha mu_bkg``; empty bins contribute their expectation only.
    """
    n_on, n_off, alpha, mu_sig = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (n_on, n_off, alpha, mu_sig))
    )
    mu_bkg = wstat_profile_background(n_on, n_off, alpha, mu_sig)
    mu_on = mu_sig + alpha * mu_bkg
    with np.errstate(divide="ignore", invalid="ignore"):
        on = mu_on - n_on + xlogy(n_on, n_on) - xlogy(n_on, mu_on)
        off = mu_bkg - n_off + xlogy(n_off, n_off) - xlogy(n_off, mu_bkg)
    return 2 * (on + off)
