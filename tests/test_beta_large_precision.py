"""The beta family's log-density and derivatives at large precision.

Evaluated as plain differences of lgamma / digamma values of size phi, the beta family's l, l_s and
l_ss lost about log10(phi) digits: l_ss was 1e-9 relative off at phi = 1e3, l_s 1e-4 at phi = 1e9
and 0.17 at phi = 1e12. The kernel now cancels the Stirling leading terms analytically when
mu phi and (1 - mu) phi are both >= 7 (``beta_large_precision`` in cpp/families.hpp). References
are the closed forms of the header of cpp/families.hpp evaluated with mpmath at 60 digits, with
mu = 1/(1 + exp(-eta)) and 1 - mu = 1/(1 + exp(eta)) computed separately.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

from test_kernel_extremes import NAMES, check_finite_differences, obs


def beta_reference(y: float, eta: float, log_phi: float, expected: bool) -> np.ndarray:
    """(l, l_e, l_s, l_ee, l_es, l_ss) of one beta observation, observed or expected information."""
    with mp.workdps(60):
        y, eta, phi = mp.mpf(y), mp.mpf(eta), mp.exp(mp.mpf(log_phi))
        mu, cmu = 1 / (1 + mp.exp(-eta)), 1 / (1 + mp.exp(eta))
        v, p, q = mu * cmu, mu * phi, cmu * phi
        log_y, log_1my = mp.log(y), mp.log(1 - y)
        psi1 = lambda x: mp.polygamma(1, x)  # noqa: E731
        l = mp.loggamma(phi) - mp.loggamma(p) - mp.loggamma(q) + (p - 1) * log_y + (q - 1) * log_1my
        resid = (log_y - log_1my) - (mp.digamma(p) - mp.digamma(q))
        g_phi = mp.digamma(phi) + mu * (log_y - mp.digamma(p)) + cmu * (log_1my - mp.digamma(q))
        lee_h = -(v * phi) ** 2 * (psi1(p) + psi1(q))
        les_h = -phi * v * phi * (mu * psi1(p) - cmu * psi1(q))
        lss_h = phi ** 2 * (psi1(phi) - mu ** 2 * psi1(p) - cmu ** 2 * psi1(q))
        le, ls = v * phi * resid, phi * g_phi
        if expected:
            out = (l, le, ls, lee_h, les_h, lss_h)
        else:
            out = (l, le, ls, v * (1 - 2 * mu) * phi * resid + lee_h, phi * v * resid + les_h, ls + lss_h)
        return np.array([float(x) for x in out])


LOGIT_03 = float(np.log(0.3 / 0.7))
CASES = [
    # (y, eta, phi): y near mu (second order in y - mu), y far from mu, mu < 1/2 and mu > 1/2
    (0.3 + 1.3e-4, LOGIT_03, 1e3),
    (0.62, 0.4, 1e3),
    (1 / (1 + np.exp(-2.0)) - 3.1e-5, 2.0, 1e6),
    (0.0011, -7.0, 1e6),
    (0.4999987, 0.0, 1e9),
    (1 / (1 + np.exp(-5.0)) + 2.0e-7, 5.0, 1e9),
    (1 / (1 + np.exp(1.0)) + 4.0e-6, -1.0, 1e12),
    (0.05, 0.3, 1e9),
    (1 - 0.3 - 2.2e-4, -LOGIT_03, 1e4),
]


@pytest.mark.parametrize("information", ["observed", "expected"])
@pytest.mark.parametrize("y,eta,phi", CASES)
def test_beta_large_precision_matches_mpmath(y, eta, phi, information):
    got = obs("beta", y, eta, np.log(phi), information=information)
    want = beta_reference(y, eta, np.log(phi), information == "expected")
    # eta and y are doubles: mu is known to eps relative, which moves y - mu ~ phi^-1/2 by
    # eps sqrt(phi) relative -- the conditioning of the problem, not of the evaluation
    rtol = 1e-12 * max(1.0, np.sqrt(phi) / 1e3)
    bad = [f"{NAMES[i]}: {got[i]!r} vs {want[i]!r}"
           for i in np.where(~(np.abs(got - want) <= rtol * np.abs(want) + 1e-300))[0]]
    assert not bad, bad


@pytest.mark.parametrize("information", ["observed", "expected"])
def test_beta_continuous_across_the_large_precision_switch(information):
    """mu phi just below and just above 7 (the switch) give the same values to ~1e-12."""
    eta = float(np.log(0.25 / 0.75))
    below = obs("beta", 0.26, eta, np.log(28.0 * (1 - 1e-13)), information=information)
    above = obs("beta", 0.26, eta, np.log(28.0 * (1 + 1e-13)), information=information)
    np.testing.assert_allclose(above, below, rtol=1e-11, atol=1e-13)
    want = beta_reference(0.26, eta, np.log(28.0 * (1 + 1e-13)), information == "expected")
    # atol: the Stirling series of trigamma truncated at x = 7 is ~2e-13 off in x^2 trigamma(x),
    # on either side of the switch
    np.testing.assert_allclose(above, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("y,eta,phi", [(0.31, LOGIT_03, 50.0), (0.9, 2.0, 1e3), (0.002, -6.5, 1e4)])
def test_beta_large_precision_finite_differences(y, eta, phi):
    check_finite_differences("beta", y, eta, np.log(phi), h=0.05 / np.sqrt(phi), rtol=1e-6)


def test_beta_precision_score_unbiased_at_large_phi():
    """E[l_s] = 0 at the true precision: the mean score of 20,000 draws at phi = 1e9 is within
    4 standard errors of 0 (the old evaluation's error, ~1e-4 relative on terms of size ~1,
    was far inside that; this guards the sign and constant of the cancelled leading terms)."""
    rng = np.random.default_rng(0)
    eta, phi = 0.7, 1e9
    mu = 1 / (1 + np.exp(-eta))
    y = rng.beta(mu * phi, (1 - mu) * phi, 20_000)
    y = y[(y > 0) & (y < 1)]
    ls = np.array([obs("beta", yi, eta, np.log(phi))[2] for yi in y[:2000]])
    assert abs(ls.mean()) < 4 * ls.std() / np.sqrt(ls.size)
