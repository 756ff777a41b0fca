"""Display images of a dataset: sums inside the safe mask and the Cash significance."""

import numpy as np
from astropy import units as u
from scipy import stats

from dl3lab.reduction import MapAxis, MapDataset, WcsGeom
from dl3lab.reduction.datasets.summary import cash_significance, sky_images


def test_cash_significance_matches_the_likelihood_ratio():
    rng = np.random.default_rng(3)
    mu = rng.uniform(0.5, 50, 200)
    n = rng.poisson(mu * rng.uniform(0.5, 2, 200)).astype(float)
    # independent: -2 log of the Poisson likelihood ratio with the best-fit mean n
    ts = -2 * (stats.poisson.logpmf(n, mu) - stats.poisson.logpmf(n, np.maximum(n, 1e-300)))
    expected = np.sign(n - mu) * np.sqrt(np.clip(ts, 0, None))
    np.testing.assert_allclose(cash_significance(n, mu), expected, rtol=1e-9, atol=1e-9)
    assert cash_significance(5.0, 0.0) == 0.0


def test_sky_images_sum_inside_the_safe_mask():
    axis = MapAxis.from_energy_bounds("1 TeV", "10 TeV", nbin=3)
    geom = WcsGeom.create(skydir=(0, 0), width=1.0, binsz=0.1, axes=[axis])
    dataset = MapDataset.create(geom)
    rng = np.random.default_rng(1)
    dataset.counts.data = rng.poisson(5, dataset.counts.data.shape).astype(float)
    dataset.background.data = np.full(dataset.counts.data.shape, 4.0)
    mask = np.ones(dataset.counts.data.shape, bool)
    mask[0] = False
    mask[:, :2, :] = False
    dataset.mask_safe.data = mask
    images = sky_images(dataset, correlation_radius=0 * u.deg)
    counts = (dataset.counts.data * mask).sum(axis=0)
    np.testing.assert_array_equal(images["counts"].data, counts)
    np.testing.assert_array_equal(images["background"].data, (4.0 * mask).sum(axis=0))
    np.testing.assert_array_equal(images["excess"].data, counts - (4.0 * mask).sum(axis=0))
    np.testing.assert_array_equal(images["safe_mask"].data, mask.any(axis=0).astype(np.float32))
    np.testing.assert_allclose(images["significance"].data,
                               cash_significance(counts, (4.0 * mask).sum(axis=0)))
    # correlated: the centre pixel sums its neighbours within the radius (a plus-shaped 5-pixel disk at 1 px)
    correlated = sky_images(dataset, correlation_radius=0.1 * u.deg)["significance"].data
    n_on = counts[4:7, 4:7][[0, 1, 1, 1, 2], [1, 0, 1, 2, 1]].sum()
    mu = ((4.0 * mask).sum(axis=0))[4:7, 4:7][[0, 1, 1, 1, 2], [1, 0, 1, 2, 1]].sum()
    np.testing.assert_allclose(correlated[5, 5], cash_significance(n_on, mu))
