"""The likelihood kernel at extreme linear predictors, precisions and counts.

Regression tests for the audited defects of the C++ kernel (one block per defect):

1. beta / beta-binomial second derivatives were -inf / NaN for |eta| >~ 355 (trigamma(mu phi)
   overflowed) and l_e, l_s for |eta| >~ 709;
2. beta-binomial l_s, l_ss wrong for phi >~ 1e7 (differences of lgamma / digamma of size ~phi);
3. log C(n, k) inaccurate for large n with small k or n - k;
4. binomial log-density cancelled (k eta - n log1pexp(eta)) when k ~ n;
5. a scalar log_phi / log_phi_obs was never broadcast;
6. a weight-0 observation could turn loglik / accumulate / loglik_grid into NaN;
7. ``cross`` with information="expected" was neither observed nor expected;
8. log_phi beyond ~709 (phi = inf) accepted; KernelData arrays mutable after construction.

Reference values: mpmath at 400 significant digits (scratch script, not part of the suite):
closed forms of the family derivatives (those in the header of cpp/families.hpp) with
``mp.loggamma``, ``mp.digamma``, ``mp.polygamma(1, .)``, mu = 1/(1 + exp(-eta)) and
1 - mu = 1/(1 + exp(eta)) evaluated separately; log C(n, k) = loggamma(n+1) - loggamma(k+1) -
loggamma(n-k+1); binomial l = log C + k log mu + (n - k) log(1 - mu). At 400 digits the
cancellations at eta = -800 (terms ~1e-348) are resolved exactly. Values rounded to double.
"""

from __future__ import annotations

import numpy as np
import pytest

import _numpy_kernel as ref
from irsl_stats import _core, _kernel

EPS = np.finfo(float).eps
NAMES = ("l", "l_e", "l_s", "l_ee", "l_es", "l_ss")

# (y, eta, log_phi) -> (l, l_e, l_s, l_ee, l_es, l_ss), observed information
BETA_OBSERVED = [
    ((0.3, -356.0, 0.0), (-354.79602719567407, 1.0, 0.6433250560612677, -4.546753079951379e-155, 1.9632215010779165e-155, -0.35667494393873234)),
    ((0.3, 356.0, 0.0), (-355.64332505606126, -1.0, -0.20397280432593604, -3.758456816780583e-156, -6.134128899351237e-155, -1.203972804325936)),
    ((0.3, -400.0, 0.0), (-398.79602719567407, 1.0, 0.6433250560612677, -3.5378886982884066e-174, 1.5276086118524464e-174, -0.35667494393873234)),
    ((0.3, -348.0, -6.907755278982137), (-353.3474642056614, 1.0, 0.9996433250560612, -1.4680264685222957e-151, -6.192538426553807e-155, -0.00035667494393873243)),
    ((0.3, -342.0, -13.815510557964274), (-354.25486316637455, 1.0, 0.9999996433250561, -5.91994086793047e-149, -2.5079658151114225e-155, -3.5667494393873254e-07)),
    ((0.7, -800.0, 0.0), (-799.6433250560613, 1.0, -0.20397280432593584, -0.0, 0.0, -1.203972804325936)),
    ((0.7, 800.0, 2.0), (-799.0748434215816, -1.0, -1.6354911698462387, 0.0, -0.0, -2.635491169846239)),
    ((0.05, -1000.0, 3.0), (-994.9832277903915, 1.0, -0.030253358333081067, 0.0, 0.0, -1.030253358333081)),
    ((0.3, -30.0, 9.210340371976184), (-3585.9784512587203, 1.0000000083658163, -3565.749439378025, 8.365816157960469e-09, 9.301718820750103e-09, -3566.7494393770894)),
    ((0.5, 1.0, -600.0), (-600.2402290139165, -0.46211715726000974, 1.0, -0.3932238664829637, 0.0, -1.8371148980807357e-261)),
]

# expected information: (y, eta, log_phi) -> (l, l_e, l_s, E l_ee, E l_es, E l_ss)
BETA_EXPECTED = [
    ((0.3, -356.0, 0.0), (-354.79602719567407, 1.0, 0.6433250560612677, -1.0, -1.0, -1.0)),
    ((0.3, 356.0, 0.0), (-355.64332505606126, -1.0, -0.20397280432593604, -1.0, 1.0, -1.0)),
    ((0.3, -400.0, 0.0), (-398.79602719567407, 1.0, 0.6433250560612677, -1.0, -1.0, -1.0)),
    ((0.7, -800.0, 0.0), (-799.6433250560613, 1.0, -0.20397280432593584, -1.0, -1.0, -1.0)),
]

# (k, n, eta, log_phi) -> derivatives; extreme eta (defect 1)
BB_EXTREME_ETA = [
    ((3, 10, -355.0, 0.0), (-356.0986122886681, 1.0, 0.6638888888888889, -1.4002271976507012e-154, 2.80291971757908e-155, -0.29814043209876545)),
    ((3, 10, -356.0, 0.0), (-357.0986122886681, 1.0, 0.6638888888888889, -5.151147989847947e-155, 1.0311365393514087e-155, -0.29814043209876545)),
    ((3, 10, -400.0, 0.0), (-401.0986122886681, 1.0, 0.6638888888888889, -4.0081763702657405e-174, 8.023409771358375e-175, -0.29814043209876545)),
    ((3, 10, 400.0, 0.0), (-401.9459101490553, -1.0, -0.09563492063492063, -7.341483454070356e-175, -3.787779869056589e-174, -0.906978300579491)),
    ((0, 10, -400.0, 0.0), (-5.609470949740506e-174, -5.609470949740506e-174, -2.641402909041903e-174, -5.609470949740506e-174, -2.641402909041903e-174, -1.2922205277562305e-174)),
    ((10, 10, 400.0, 0.0), (-5.609470949740506e-174, 5.609470949740506e-174, -2.641402909041903e-174, -5.609470949740506e-174, 2.641402909041903e-174, -1.2922205277562305e-174)),
    ((25, 50, -400.0, 0.0), (-403.2188758248682, 1.0, 0.31675283942408183, -1.991776380582566e-174, 2.9986258594210577e-174, -0.6638378305453897)),
    ((3, 10, -800.0, 1.0), (-800.6264709502212, 1.0, 0.23471090167733533, -0.0, 0.0, -0.5689238298733322)),
    ((7, 200, 800.0, -13.815510557964274), (-815.7257969524073, -1.0, 0.9999965769692004, -0.0, -0.0, -3.423030651056167e-06)),
    ((2, 5, -360.0, -6.907755278982137), (-367.0906600823214, 1.0, 0.999416840225132, -9.018302514779201e-157, -2.242758660594803e-160, -0.0005829862690322401)),
]

# (k, n, eta, log_phi) -> derivatives; large precision (defect 2) and ordinary cases around the
# switches between the evaluation regimes of the kernel (finite sums, Stirling differences,
# lgamma differences)
BB_PRECISION = [
    ((25, 50, 0.1, 18.420680743952367), (-2.249276717841498, -1.2489587729467948, 2.1997489863880685e-07, -12.468795979622573, -6.009999091741041e-07, -2.1997480561247459e-07)),
    ((3, 10, 0.1, 20.72326583694641), (-2.3564748530305617, -2.249791854295323, -4.923101397265699e-09, -2.4937603760058185, -2.0494076619280014e-08, 4.923101260834917e-09)),
    ((25, 50, 0.1, 27.631021115928547), (-2.24927649788855, -1.2489593738868994, 2.1997499165587596e-11, -12.468802009041596, -6.010005000599703e-11, -2.1997499164657334e-11)),
    ((400, 1000, -0.3, 11.512925464970229), (-4.994769091551104, -25.305915993558568, -0.008223969651718765, -242.07345800694773, -0.24909591582942617, 0.008013658489936432)),
    ((5000, 10000, 0.2, 20.72326583694641), (-54.74737819156507, -498.33494078238715, -0.0004965585093857026, -2475.1402308151446, -0.005032291400950766, 0.0004965484622248147)),
    ((37, 100, 0.4, 3.4011973816621555), (-5.694417616582993, -5.24621977027684, -1.492284306547389, -4.787640063748222, -3.930136419987356, -1.0919786771166273)),
    ((3, 200, -1.0, 1.6094379124341003), (-4.824134902740898, -2.631424061016533, -1.9422367038427395, -2.311617097638466, -2.609435910692182, -2.155444913828583)),
    ((150, 200, 2.0, -1.6094379124341003), (-7.565635607155319, -0.7429678996257038, 0.9273131775505039, -0.22543661315476266, 0.014614526784902012, -0.06332887266971192)),
    ((12, 40, 1.3, 2.0149030205422647), (-6.264099197791526, -2.6128710778873865, -2.1787378984524364, -0.01527699473085178, -1.8987034415534956, -1.8935795177047094)),
    ((4, 8, 0.3, 20.72326583694641), (-1.3863467171547958, -0.5955401308390283, 3.4559378101856598e-09, -1.9556664809819049, -3.6542434686599773e-09, -3.455937789917643e-09)),
    ((1, 1, -2.0, 16.11809565095832), (-2.1269280110429727, 0.8807970779778824, 0.0, -0.10499358540350652, -0.0, 0.0)),
]

# (n, k) -> log C(n, k)
LOG_BINOM = [
    ((1e15, 1.0), 34.538776394910684),
    ((9e15, 2.0), 72.77885476393386),
    ((1e12, 3.0), 81.10130387855459),
    ((1e12, 1e12 - 3), 81.10130387855459),
    ((9e15, 4.5e15), 6238324625039489.0),
    ((50.0, 25.0), 32.47055650581199),
    ((1e6, 5e5), 693140.0470130637),
    ((3e9, 17.0), 337.46685463997665),
    ((7e13, 100.0), 2824.2122602421564),
]

# (k, n, eta) -> binomial log-density
BINOMIAL_LLF = [
    ((1e7, 1e7, 30.0), -9.357622968839737e-07),
    ((0.0, 1e7, -30.0), -9.357622968839737e-07),
    ((5e6, 1e7, 0.5), -309306.32104081684),
    ((9e15, 9e15, 40.0), -0.038235188297624303),
]


def one_obs(family, y, trials=None):
    return _kernel.KernelData(
        [0], [0], [y], n_models=1, n_items=1, family=family,
        trials=None if trials is None else [trials],
    )


def obs(family, y, eta, log_phi, trials=None, information="observed"):
    d = one_obs(family, y, trials)
    return np.array(_kernel.obs_derivatives(d, [eta], [log_phi], information=information))[:, 0]


def assert_close(got, want, rtol=1e-12, atol=1e-20, what=""):
    got, want = np.asarray(got, float), np.asarray(want, float)
    assert np.all(np.isfinite(got)), f"{what}: non-finite {got}"
    err = np.abs(got - want)
    bad = err > rtol * np.abs(want) + atol
    assert not bad.any(), f"{what}: got {got}, want {want} (bad: {[NAMES[i] for i in np.where(bad)[0]]})"


def stencil(f, x, h):
    """5-point central difference of the vector function f at x."""
    fm2, fm1, fp1, fp2 = (f(x + c * h) for c in (-2.0, -1.0, 1.0, 2.0))
    return (fm2 - 8 * fm1 + 8 * fp1 - fp2) / (12 * h)


def check_finite_differences(family, y, eta, lp, trials=None, h=1e-3, rtol=1e-6):
    """l_e, l_s against l; l_ee, l_es against l_e; l_ss against l_s (5-point stencil)."""
    f = lambda e, s: obs(family, y, e, s, trials)  # noqa: E731
    d = f(eta, lp)
    de = stencil(lambda e: f(e, lp), eta, h)
    ds = stencil(lambda s: f(eta, s), lp, h)
    # round-off of the stencil ~ 20 eps |f| / h, f = l or its first derivatives
    tol_l = 100 * EPS * (1 + abs(d[0])) / h
    tol_1 = 100 * EPS * (1 + abs(d[1]) + abs(d[2])) / h
    pairs = [(de[0], d[1], tol_l, "l_e"), (ds[0], d[2], tol_l, "l_s"), (de[1], d[3], tol_1, "l_ee"),
             (ds[1], d[4], tol_1, "l_es"), (de[2], d[4], tol_1, "l_es (symmetry)"),
             (ds[2], d[5], tol_1, "l_ss")]
    for fd, an, tol, name in pairs:
        assert abs(fd - an) <= rtol * abs(an) + tol, (name, family, y, eta, lp, fd, an)


# ------------------------------------------------------------------------------------------------
# 1. extreme linear predictors
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case,want", BETA_OBSERVED)
def test_beta_extreme_matches_mpmath(case, want):
    assert_close(obs("beta", *case), want, what=f"beta {case}")


@pytest.mark.parametrize("case,want", BETA_EXPECTED)
def test_beta_expected_extreme_matches_mpmath(case, want):
    assert_close(obs("beta", *case, information="expected"), want, what=f"beta expected {case}")


@pytest.mark.parametrize("case,want", BB_EXTREME_ETA)
def test_beta_binomial_extreme_matches_mpmath(case, want):
    k, n, eta, lp = case
    assert_close(obs("beta_binomial", k, eta, lp, n), want, what=f"beta_binomial {case}")


@pytest.mark.parametrize("eta", [-2000.0, -800.0, -400.0, -356.0, -30.0, 30.0, 356.0, 800.0])
@pytest.mark.parametrize("lp", [-13.8, 0.0, 3.0])
def test_extreme_eta_finite_differences(eta, lp):
    check_finite_differences("beta", 0.3, eta, lp)
    check_finite_differences("beta_binomial", 3.0, eta, lp, trials=10.0)
    check_finite_differences("beta_binomial", 30.0, eta, lp, trials=50.0)


@pytest.mark.parametrize("family,y,trials", [("beta", 0.3, None), ("beta_binomial", 3.0, 10.0),
                                             ("beta_binomial", 0.0, 60.0), ("binomial", 2.0, 7.0)])
def test_extreme_eta_finite_everywhere(family, y, trials):
    """Every output finite for all finite eta and |log phi| <= 700."""
    etas = np.array([-1e300, -1e4, -746.0, -745.0, -710.0, -709.0, -356.0, -1e-300, 0.0, 1e-300,
                     356.0, 709.0, 710.0, 745.0, 746.0, 1e4, 1e300])
    for lp in (-700.0, -50.0, 0.0, 20.0, 360.0, 700.0):
        d = _kernel.KernelData(np.zeros(etas.size, int), np.zeros(etas.size, int),
                               np.full(etas.size, y), n_models=1, n_items=1, family=family,
                               trials=None if trials is None else np.full(etas.size, trials))
        infos = ("observed", "expected") if family == "beta" else ("observed",)
        for info in infos:
            out = np.array(_kernel.obs_derivatives(d, etas, np.full(etas.size, lp), information=info))
            assert np.all(np.isfinite(out)), (family, info, lp)


@pytest.mark.parametrize("family,y,trials", [("beta", 0.3, None), ("beta_binomial", 3.0, 10.0)])
def test_accumulate_item_block_finite_at_fitter_bounds(family, y, trials):
    """eta = a theta + d = 25 * (-12) - 60 = -360 (the JML bounds): the item block is finite and
    equals the block assembled from the per-observation derivatives."""
    theta = np.array([[-12.0], [12.0]])
    a, d, lp = np.array([[25.0]]), np.array([-60.0]), np.array([0.0])
    data = _kernel.KernelData([0, 1], [0, 0], [y, y], n_models=2, n_items=1, family=family,
                              trials=None if trials is None else [trials, trials])
    res = _kernel.accumulate(data, theta, a, d, lp)
    assert np.all(np.isfinite(res.hess_item)) and np.all(np.isfinite(res.grad_item))
    eta = (theta[:, 0] * a[0, 0] + d[0])
    l, le, ls, lee, les, lss = _kernel.obs_derivatives(data, eta, np.zeros(2))
    x = np.column_stack([theta[:, 0], np.ones(2)])
    want = np.zeros((3, 3))
    want[:2, :2] = np.einsum("t,ti,tj->ij", lee, x, x)
    want[:2, 2] = want[2, :2] = les @ x
    want[2, 2] = lss.sum()
    np.testing.assert_allclose(res.hess_item[0], want, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(res.loglik, l.sum(), rtol=1e-14)


# ------------------------------------------------------------------------------------------------
# 2. beta-binomial at large precision
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case,want", BB_PRECISION)
def test_beta_binomial_precision_matches_mpmath(case, want):
    k, n, eta, lp = case
    assert_close(obs("beta_binomial", k, eta, lp, n), want, rtol=2e-12, what=f"beta_binomial {case}")


@pytest.mark.parametrize("k,n,lp", [(25.0, 50.0, np.log(1e8)), (3.0, 10.0, np.log(1e9)),
                                    (400.0, 1000.0, np.log(1e5)), (12.0, 40.0, 2.0)])
def test_beta_binomial_precision_finite_differences(k, n, lp):
    # l_s ~ n / phi is tiny against l: compare the stencil of l_s (not of l) with l_ss, and the
    # stencil of l with l_e (l_s itself is checked against mpmath above)
    f = lambda e, s: obs("beta_binomial", k, e, s, n)  # noqa: E731
    d = f(0.1, lp)
    ds = stencil(lambda s: f(0.1, s), lp, 1e-3)
    de = stencil(lambda e: f(e, lp), 0.1, 1e-3)
    assert abs(ds[2] - d[5]) <= 1e-6 * abs(d[5]) + 1e-13 * abs(d[2])
    assert abs(ds[1] - d[4]) <= 1e-6 * abs(d[4]) + 1e-9
    assert abs(de[0] - d[1]) <= 1e-6 * abs(d[1]) + 1e-9
    assert abs(de[1] - d[3]) <= 1e-6 * abs(d[3]) + 1e-9


def test_beta_binomial_binomial_limit():
    """phi -> inf: the beta-binomial tends to the binomial, and with S1(x; m) = sum_{i<m} i/(x+i)
    = m (m-1) / (2x) + O(m^3/x^2),  l_s = S1(phi; n) - S1(mu phi; k) - S1((1-mu) phi; n-k) =
    [n (n-1) - k (k-1) / mu - (n-k) (n-k-1) / (1-mu)] / (2 phi) up to relative O(n/phi)."""
    k, n, eta = 25.0, 50.0, 0.1
    mu = 1 / (1 + np.exp(-eta))
    binom = obs("binomial", k, eta, 0.0, n)
    for phi in (1e8, 1e10, 1e12, 1e14):
        d = obs("beta_binomial", k, eta, np.log(phi), n)
        np.testing.assert_allclose(d[0], binom[0], rtol=0, atol=100 * n * n / phi + 1e-13)
        np.testing.assert_allclose(d[1], binom[1], rtol=0, atol=100 * n * n / phi + 1e-13)
        lead = (n * (n - 1) - k * (k - 1) / mu - (n - k) * (n - k - 1) / (1 - mu)) / (2 * phi)
        np.testing.assert_allclose(d[2], lead, rtol=100 * n / phi)
        np.testing.assert_allclose(d[5], -lead, rtol=100 * n / phi)


# ------------------------------------------------------------------------------------------------
# 3. log C(n, k)
# ------------------------------------------------------------------------------------------------
def test_log_binomial_coefficient_matches_mpmath():
    n = np.array([c[0][0] for c in LOG_BINOM])
    k = np.array([c[0][1] for c in LOG_BINOM])
    want = np.array([c[1] for c in LOG_BINOM])
    got = _core.log_const(k, n, _kernel.FAMILY_CODES["binomial"], 1)
    np.testing.assert_allclose(got, want, rtol=4 * EPS, atol=0)
    data = _kernel.KernelData(np.zeros(n.size, int), np.zeros(n.size, int), k, n_models=1,
                              n_items=1, family="beta_binomial", trials=n)
    np.testing.assert_array_equal(data.log_const, got)
    # k = 0 and k = n exactly 0; symmetric in k <-> n - k
    assert np.all(_core.log_const(np.array([0.0, 9e15]), np.array([9e15, 9e15]), 2, 1) == 0.0)


# ------------------------------------------------------------------------------------------------
# 4. binomial log-density
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case,want", BINOMIAL_LLF)
def test_binomial_loglik_matches_mpmath(case, want):
    k, n, eta = case
    # 1e7 * log1p(e^-30) = 9.36e-7 was computed as 1e7 * 30 - 1e7 * (30 + 9.36e-14): -8.94e-7
    assert abs(obs("binomial", k, eta, 0.0, n)[0] - want) <= 1e-13 * abs(want)


@pytest.mark.parametrize("eta", [30.0, -30.0, 5.0])
def test_binomial_derivatives_at_extreme_counts(eta):
    k, n = 1e7, 1e7
    f = lambda e: obs("binomial", k, e, 0.0, n)  # noqa: E731
    d = f(eta)
    from scipy.special import expit

    mu, cmu = expit(eta), expit(-eta)
    np.testing.assert_allclose(d[1], k * cmu - (n - k) * mu, rtol=1e-13)
    np.testing.assert_allclose(d[3], -n * mu * cmu, rtol=1e-13)
    fd = stencil(f, eta, 1e-3)
    assert abs(fd[0] - d[1]) <= 1e-6 * abs(d[1]) + 100 * EPS * (1 + abs(d[0])) / 1e-3


# ------------------------------------------------------------------------------------------------
# 5. scalar log_phi broadcast
# ------------------------------------------------------------------------------------------------
def test_scalar_log_phi_is_broadcast():
    rng = np.random.default_rng(4)
    M, N = 4, 3
    model = np.repeat(np.arange(M), N)
    item = np.tile(np.arange(N), M)
    y = rng.uniform(0.1, 0.9, M * N)
    data = _kernel.KernelData(model, item, y, n_models=M, n_items=N, family="beta",
                              model_ptr=np.arange(0, M * N + 1, N))
    theta, a, d = rng.normal(size=M), rng.uniform(0.5, 2, N), rng.normal(size=N)
    full = np.full(N, 1.5)
    assert _kernel.loglik(data, theta, a, d, 1.5) == _kernel.loglik(data, theta, a, d, full)
    r1, r2 = _kernel.accumulate(data, theta, a, d, 1.5), _kernel.accumulate(data, theta, a, d, full)
    np.testing.assert_array_equal(r1.hess_item, r2.hess_item)
    nodes = rng.normal(size=(M, 2))
    np.testing.assert_array_equal(_kernel.loglik_grid(data, a, d, np.float64(1.5), nodes),
                                  _kernel.loglik_grid(data, a, d, full, nodes))
    w = np.full((M, 2), 0.5)
    g1 = _kernel.accumulate_items_weighted(data, a, d, 1.5, nodes, w)
    g2 = _kernel.accumulate_items_weighted(data, a, d, full, nodes, w)
    np.testing.assert_array_equal(g1[2], g2[2])
    eta = rng.normal(size=M * N)
    for x1, x2 in zip(_kernel.obs_derivatives(data, eta, 0.7),
                      _kernel.obs_derivatives(data, eta, np.full(M * N, 0.7))):
        np.testing.assert_array_equal(x1, x2)


# ------------------------------------------------------------------------------------------------
# 6. zero weights
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("family,extra_y,extra_trials,extra_theta",
                         [("beta", 0.3, None, -12.0),            # eta = -360 (defect 1 regime)
                          ("binomial", 0.0, 9e15, 1e300)])        # l = -(n - k) eta = -inf
def test_zero_weight_observation_contributes_nothing(family, extra_y, extra_trials, extra_theta):
    """A weight-0 observation changes no output of any pass (bitwise), even where its own
    log-density or derivatives are not finite."""
    y = [0.4, 0.6, extra_y] if family == "beta" else [1.0, 2.0, extra_y]
    trials = None if extra_trials is None else [3.0, 3.0, extra_trials]
    full = _kernel.KernelData([0, 0, 1], [0, 1, 0], y, n_models=2, n_items=2, family=family,
                              trials=trials, weight=[1.0, 2.0, 0.0], model_ptr=[0, 2, 3])
    less = _kernel.KernelData([0, 0], [0, 1], y[:2], n_models=2, n_items=2, family=family,
                              trials=None if trials is None else trials[:2], weight=[1.0, 2.0],
                              model_ptr=[0, 2, 2])
    theta = np.array([[0.2], [extra_theta]])
    a, d, lp = np.array([[25.0], [1.0]]), np.array([-60.0, 0.5]), np.array([0.0, 1.0])
    if family == "binomial":
        a, d = np.array([[1.0], [1.0]]), np.array([0.0, 0.5])
    assert _kernel.loglik(full, theta, a, d, lp) == _kernel.loglik(less, theta, a, d, lp)
    rf = _kernel.accumulate(full, theta, a, d, lp, cross=True)
    rl = _kernel.accumulate(less, theta, a, d, lp, cross=True)
    assert rf.loglik == rl.loglik
    for name in ("grad_theta", "hess_theta", "grad_item", "hess_item"):
        np.testing.assert_array_equal(getattr(rf, name), getattr(rl, name), err_msg=name)
    np.testing.assert_array_equal(rf.cross[:2], rl.cross)
    assert np.all(rf.cross[2] == 0.0)
    nodes = theta[:, None, :]
    np.testing.assert_array_equal(_kernel.loglik_grid(full, a, d, lp, nodes),
                                  _kernel.loglik_grid(less, a, d, lp, nodes))
    vf = _kernel.accumulate_items_weighted(full, a, d, lp, nodes, np.ones((2, 1)))
    vl = _kernel.accumulate_items_weighted(less, a, d, lp, nodes, np.ones((2, 1)))
    assert vf[0] == vl[0]
    np.testing.assert_array_equal(vf[2], vl[2])


# ------------------------------------------------------------------------------------------------
# 7. cross blocks are observed information
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("D", [1, 2])
def test_cross_is_observed_for_expected_information(D):
    rng = np.random.default_rng(7)
    M, N = 6, 5
    model = np.repeat(np.arange(M), N)
    item = np.tile(np.arange(N), M)
    y = rng.uniform(0.05, 0.95, M * N)
    w = rng.uniform(0.5, 2.0, M * N)
    data = _kernel.KernelData(model, item, y, n_models=M, n_items=N, family="beta", weight=w)
    theta, a = rng.normal(size=(M, D)), rng.uniform(0.5, 2, size=(N, D))
    d, lp = rng.normal(size=N), rng.uniform(0, 3, N)
    obs_c = _kernel.accumulate(data, theta, a, d, lp, cross=True).cross
    exp_r = _kernel.accumulate(data, theta, a, d, lp, cross=True, information="expected")
    scale = np.max(np.abs(obs_c))
    np.testing.assert_allclose(exp_r.cross, obs_c, rtol=1e-12, atol=1e-13 * scale)
    want = ref.accumulate("beta", model, item, y, theta, a, d, lp, weight=w, cross=True)["cross"]
    np.testing.assert_allclose(exp_r.cross, want, rtol=1e-10, atol=1e-12 * scale)
    # the item blocks stay expected information
    want_h = ref.accumulate("beta", model, item, y, theta, a, d, lp, weight=w, expected=True)
    np.testing.assert_allclose(exp_r.hess_item, want_h["hess_item"], rtol=1e-10,
                               atol=1e-12 * np.max(np.abs(want_h["hess_item"])))


# ------------------------------------------------------------------------------------------------
# 8. validation: finite phi, read-only data
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("family,y,trials", [("beta", 0.3, None), ("beta_binomial", 1.0, 4.0)])
def test_log_phi_must_give_finite_phi(family, y, trials):
    data = one_obs(family, y, trials)
    th, a, d = np.zeros(1), np.ones(1), np.zeros(1)
    for bad in (710.0, -700.5, 1e6):
        with pytest.raises(ValueError, match=r"log_phi must lie in \[-700, 700\]"):
            _kernel.loglik(data, th, a, d, np.array([bad]))
        with pytest.raises(ValueError, match=r"log_phi_obs must lie in \[-700, 700\]"):
            _kernel.obs_derivatives(data, np.zeros(1), np.array([bad]))
    for ok in (700.0, -700.0):
        assert np.isfinite(_kernel.loglik(data, th, a, d, np.array([ok])))
        assert np.all(np.isfinite(_kernel.obs_derivatives(data, np.zeros(1), np.array([ok]))))


def test_kernel_data_arrays_are_read_only():
    y = np.array([1.0, 2.0])
    data = _kernel.KernelData([0, 0], [0, 1], y, n_models=1, n_items=2, family="beta_binomial",
                              trials=np.array([3.0, 5.0]), weight=np.array([1.0, 1.0]))
    for name in ("y", "trials", "weight", "log_const", "model", "item"):
        with pytest.raises(ValueError, match="read-only"):
            getattr(data, name)[0] = 0
    assert y.flags.writeable  # the caller's array is untouched
    beta = _kernel.KernelData([0], [0], [0.5], n_models=1, n_items=1, family="beta")
    with pytest.raises(ValueError, match="read-only"):
        beta.log_y[0, 0] = 0.0
    # the read-only arrays are accepted by every pass
    assert np.isfinite(_kernel.loglik(data, np.zeros(1), np.ones(2), np.zeros(2), np.zeros(2)))


# ------------------------------------------------------------------------------------------------
# determinism in the extreme regime
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("family", ["beta", "beta_binomial"])
def test_thread_count_bitwise_identical_at_extremes(family):
    """n large enough for several chunks and two threads; |eta| up to ~1000, phi from 1e-6 to
    1e9: every pass gives bitwise identical, finite results on 1 and 2 threads."""
    rng = np.random.default_rng(11)
    M, N = 350, 200
    model = np.repeat(np.arange(M), N)
    item = np.tile(np.arange(N), M)
    n = M * N
    if family == "beta":
        y, trials = rng.uniform(0.01, 0.99, n), None
    else:
        trials = rng.choice([1.0, 10.0, 50.0, 1e4], size=n)
        y = np.floor(rng.uniform(0, 1, n) * (trials + 1))
    data = _kernel.KernelData(model, item, y, n_models=M, n_items=N, family=family, trials=trials,
                              weight=rng.choice([0.0, 1.0, 2.5], size=n),
                              model_ptr=np.arange(0, n + 1, N))
    theta = rng.uniform(-12, 12, M)
    a = rng.uniform(0.2, 25, N)
    d = rng.uniform(-60, 60, N)
    lp = rng.uniform(np.log(1e-6), np.log(1e9), N)
    nodes = theta[:, None] + rng.normal(size=(M, 3)) * 40
    nw = rng.dirichlet(np.ones(3), size=M)
    out = {}
    for nt in (1, 2):
        r = _kernel.accumulate(data, theta, a, d, lp, cross=True, n_threads=nt)
        out[nt] = [r.loglik, r.grad_theta, r.hess_theta, r.grad_item, r.hess_item, r.cross,
                   _kernel.loglik(data, theta, a, d, lp, n_threads=nt),
                   _kernel.loglik_grid(data, a, d, lp, nodes, n_threads=nt),
                   *_kernel.accumulate_items_weighted(data, a, d, lp, nodes, nw, n_threads=nt)]
    eta = theta[model] * a[item] + d[item]
    assert np.abs(eta).max() > 340 and np.abs(nodes[:, :, None] * a + d).max() > 1000
    for x1, x2 in zip(out[1], out[2]):
        assert np.all(np.isfinite(x1))
        np.testing.assert_array_equal(x1, x2)
