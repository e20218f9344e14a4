// families.hpp -- per-observation log-density and its derivatives in (eta, s = log phi).
//
// Everything here is of the LOG-LIKELIHOOD (not its negative). For one observation with linear
// predictor eta and log precision s, family_eval fills
//     l, l_e = dl/deta, l_s = dl/ds, l_ee = d2l/deta2, l_es = d2l/deta ds, l_ss = d2l/ds2.
// mu = logistic(eta), v = dmu/deta = mu (1 - mu), d2mu/deta2 = v (1 - 2 mu), phi = exp(s).
// With g_mu = dl/dmu, g_phi = dl/dphi and second derivatives h_mumu, h_muphi, h_phiphi:
//     l_e  = v g_mu                       l_ee = v (1 - 2 mu) g_mu + v^2 h_mumu
//     l_s  = phi g_phi                    l_ss = phi g_phi + phi^2 h_phiphi
//     l_es = phi v h_muphi
// EXPECTED = true replaces the second derivatives by their expectations over y (beta only; it
// drops the terms proportional to the score, whose expectation is 0).
//
// Families (p = mu phi, q = (1 - mu) phi; psi = digamma, psi1 = trigamma):
//  * beta (Ferrari & Cribari-Neto 2004; statsmodels BetaModel), y in (0, 1):
//      l = lgamma(phi) - lgamma(p) - lgamma(q) + (p - 1) log y + (q - 1) log(1 - y)
//      g_mu = phi (y* - mu*),  y* = log y - log(1-y),  mu* = psi(p) - psi(q)
//      g_phi = psi(phi) + mu (log y - psi(p)) + (1-mu) (log(1-y) - psi(q))
//      h_mumu = -phi^2 (psi1(p) + psi1(q))
//      h_muphi = (y* - mu*) - phi (mu psi1(p) - (1-mu) psi1(q))
//      h_phiphi = psi1(phi) - mu^2 psi1(p) - (1-mu)^2 psi1(q)
//  * bernoulli, y in {0, 1}:  l = y log mu + (1 - y) log(1 - mu),  l_e = y - mu,  l_ee = -v.
//  * binomial, k of n:  l = log C(n,k) + k log mu + (n-k) log(1-mu),  l_e = k (1-mu) - (n-k) mu,
//      l_ee = -n v.
//  * beta_binomial, k of n, p ~ Beta(mu phi, (1-mu) phi) (observed information only):
//      l = log C(n,k) + A(p; k) + A(q; n-k) - A(phi; n),  A(x; m) = lgamma(x + m) - lgamma(x)
//      g_mu = phi (A'(p; k) - A'(q; n-k)),  A'(x; m) = psi(x + m) - psi(x)
//      g_phi = mu A'(p; k) + (1-mu) A'(q; n-k) - A'(phi; n)
//      h_mumu = phi^2 (A''(p; k) + A''(q; n-k)),  A''(x; m) = psi1(x + m) - psi1(x)
//      h_muphi = (A'(p; k) - A'(q; n-k)) + phi (mu A''(p; k) - (1-mu) A''(q; n-k))
//      h_phiphi = mu^2 A''(p; k) + (1-mu)^2 A''(q; n-k) - A''(phi; n)
//    A(x; 0) = 0 exactly, so k = 0 and k = n are exact. family_eval evaluates these formulas in
//    rearranged, cancellation-free forms (see gamma_ratio and the comments in family_eval).
// The constant log C(n, k) is precomputed once per data set (log_const, see kernel.hpp) and added.
//
// Extremes. mu (or 1 - mu) underflows for |eta| >~ 745 and p = mu phi falls below ~1e-154 (where
// 1/p^2 overflows) for |eta| >~ 355 at phi = 1; the true derivatives stay finite because the
// 1/p, 1/p^2 singularities of digamma / trigamma cancel analytically (v phi / p = 1 - mu,
// v^2 phi^2 / p^2 = (1 - mu)^2, mu / p = 1 / phi). The beta family therefore splits digamma and
// trigamma of arguments below 1/2 into those singular terms and a remainder at 1 + x
// (special::lgamma_split) and adds the singular contributions in closed form; the beta-binomial
// uses sums that have no singular term (gamma_ratio). log(mu phi) is taken from log_sigmoid(eta)
// + log phi when mu phi is tiny. So l, l_e, l_s and the second derivatives are finite and
// accurate for every finite eta and |log phi| <= 700 (the bound the bindings enforce).
// At large precision (mu phi and (1 - mu) phi both >= X_ASYM) the beta family is evaluated with
// the Stirling leading terms cancelled analytically (beta_large_precision), the beta-binomial
// with differences of the Stirling series (gamma_ratio): neither loses digits as phi grows.
#pragma once

#include <algorithm>
#include <cstdint>

#include "special.hpp"

namespace irsl {

// gamma_ratio is called three times per beta-binomial observation: inlined, the calls overlap.
#if defined(__GNUC__)
#define IRSL_ALWAYS_INLINE __attribute__((always_inline))
#else
#define IRSL_ALWAYS_INLINE
#endif

enum Family : int { BETA = 0, BERNOULLI = 1, BINOMIAL = 2, BETA_BINOMIAL = 3 };

struct ObsDerivs {
    double l = 0.0, le = 0.0, ls = 0.0, lee = 0.0, les = 0.0, lss = 0.0;
    // EXPECTED = true only (beta): the observed l_ee, l_es as well, for the cross blocks, which are
    // always observed information (observed = expected + (1 - 2 mu) l_e, resp. + l_e).
    double lee_obs = 0.0, les_obs = 0.0;
};

// Below TINY (and when mu = logistic(eta) itself is below it, possibly subnormal) log(mu phi) is
// taken as log_sigmoid(eta) + log_phi instead of the log of the rounded product.
constexpr double TINY = 1e-150;

// Quantities that depend only on the precision of a question: computed once per item per pass.
struct PhiConst {
    double phi = 1.0;                      // exp(log_phi)
    double log_phi = 0.0;
    // beta only: lgamma(phi), and digamma / trigamma of phi split as in special::lgamma_split
    // (psi(phi) = dg - sing/phi, psi1(phi) = tg + sing/phi^2)
    double lg = 0.0, dg = 0.0, tg = 0.0;
    double sing = 0.0;
    // beta only, phi >= X_ASYM: the Stirling remainders of lgamma, digamma, x^2 trigamma at phi
    // (special::lgamma_rem, ...), for beta_large_precision
    double rem_lg = 0.0, rem_dg = 0.0, rem_tg = 0.0, inv_phi = 0.0;
};

template <int FAMILY>
inline PhiConst make_phi_const(double log_phi) {
    PhiConst c;
    c.log_phi = log_phi;
    if (FAMILY == BETA || FAMILY == BETA_BINOMIAL) c.phi = std::exp(log_phi);
    if (FAMILY == BETA) {
        const special::SplitParts g = special::lgamma_split<true>(c.phi);
        c.lg = (g.r.prod == 1.0 ? g.r.lg_part : g.r.lg_part - std::log(g.r.prod)) -
               (g.sing ? log_phi : 0.0);
        c.dg = g.r.dg;
        c.tg = g.r.tg;
        c.sing = g.sing ? 1.0 : 0.0;
        if (c.phi >= special::X_ASYM) {
            const double r = 1.0 / c.phi;
            c.inv_phi = r;
            c.rem_lg = special::lgamma_rem(r);
            c.rem_dg = special::digamma_rem(r);
            c.rem_tg = special::x2_trigamma_rem(r);
        }
    }
    return c;
}

// The beta-binomial terms of A(x; m) = lgamma(x + m) - lgamma(x) = sum_{i<m} log(x + i) (integer
// m >= 0): a = A(x; m) and the two complementary parts of x A'(x; m) = sum_{i<m} x/(x+i) = m - S1,
//   xa1 = x A'(x; m),   s1 = S1(x; m) = sum_{i<m} i/(x+i),
// and t = x S2(x; m) = x sum_{i<m} i/(x+i)^2 = x A' + x^2 A''. Each is computed without
// cancellation (xa1 is the small one for x << m, s1 for x >> m), and all are bounded as x -> 0
// (the i = 0 term contributes 1 to xa1 and nothing to s1, t), unlike A' and A''.
// logx: log x if the caller has it (log phi; log(mu phi) when tiny), else null (then x >= TINY).
//   m <= 16 (and x < 1e18, so that the product stays finite): the finite sums.
//   x > m, x >= X_ASYM: special::gamma_ratio_asym (differences of the Stirling series).
//   x <= m: lgamma, digamma, trigamma differences, for x < X_ASYM at x + 1 (the i = 0 term apart):
//     xa1 = 1 + x A'(x+1; m-1),  S1 = (m - 1) - x A'(x+1; m-1),
//     t = x (A'(x+1; m-1) + x A''(x+1; m-1))  (at most mild cancellation as x <= m).
struct GammaRatio {
    double a = 0.0, xa1 = 0.0, s1 = 0.0, t = 0.0;
};

template <bool DERIVS>
IRSL_ALWAYS_INLINE inline GammaRatio gamma_ratio(double x, double m, const double* logx) {
    GammaRatio r;
    if (m == 0.0) return r;
    if (m <= 16.0 && x < 1e18) {
        double prod = 1.0, a1 = 0.0, s1 = 0.0, s2 = 0.0;
        const int mi = static_cast<int>(m);
        for (int i = 1; i < mi; ++i) {
            const double xi = x + i;
            prod *= xi;
            if (DERIVS) {
                const double inv = 1.0 / xi, ir = i * inv;
                a1 += inv;
                s1 += ir;
                s2 += ir * inv;
            }
        }
        r.a = logx ? *logx + std::log(prod) : std::log(x * prod);
        r.xa1 = 1.0 + x * a1;
        r.s1 = s1;
        r.t = x * s2;
        return r;
    }
    if (x >= special::X_ASYM && x > m) {
        const special::RatioSums g =
            special::gamma_ratio_asym<DERIVS>(x, m, logx ? *logx : std::log(x));
        r.a = g.a;
        r.xa1 = g.xa1;
        r.s1 = g.s1;
        r.t = x * g.s2;
        return r;
    }
    // x <= m: plain differences (the i = 0 term, log x, apart when x < X_ASYM)
    const bool shift = x < special::X_ASYM;
    const double x1 = shift ? x + 1.0 : x, m1 = shift ? m - 1.0 : m;
    const special::LogGammaDerivs hi = special::lgamma_derivs<DERIVS>(x1 + m1);
    const special::LogGammaParts lo = special::lgamma_parts<DERIVS>(x1);
    // lgamma(x1) = lo.lg_part - log(lo.prod): with the shift, log x and log(lo.prod) in one log
    if (!shift)
        r.a = hi.lg - (lo.prod == 1.0 ? lo.lg_part : lo.lg_part - std::log(lo.prod));
    else if (logx)
        r.a = *logx + hi.lg - lo.lg_part + std::log(lo.prod);
    else
        r.a = hi.lg - lo.lg_part + std::log(x * lo.prod);
    if (DERIVS) {
        const double a1 = hi.dg - lo.dg, a2 = hi.tg - lo.tg;
        r.xa1 = (shift ? 1.0 : 0.0) + x * a1;
        r.s1 = m1 - x * a1;
        r.t = x * (a1 + x * a2);
    }
    return r;
}

// sign * x A'(x; m) added as the smaller of its two forms: sign * xa1, or sign * m (an exact
// integer, accumulated separately) - sign * S1.
inline void add_xa1(const GammaRatio& g, double m, double sign, double& ints, double& rest) {
    if (g.s1 < g.xa1) {
        ints += sign * m;
        rest -= sign * g.s1;
    } else {
        rest += sign * g.xa1;
    }
}

// The data of one observation. y: response (k for counts); trials: n (counts only); log_const:
// log C(n,k) or 0; log_y, log_1my: log y and log1p(-y) (beta only), precomputed once per data set
// because they are the two most expensive terms of a beta evaluation that do not depend on the
// parameters.
struct Response {
    double y = 0.0, trials = 0.0, log_const = 0.0, log_y = 0.0, log_1my = 0.0;
};

// log mu, log(1 - mu) from the logistic parts (e = exp(-|eta|)).
inline double log_mu_of(const special::Logistic& lg, double eta) {
    return -std::log1p(lg.e) - (eta < 0.0 ? -eta : 0.0);
}
inline double log_cmu_of(const special::Logistic& lg, double eta) {
    return -std::log1p(lg.e) - (eta > 0.0 ? eta : 0.0);
}

// The beta family when p = mu phi and q = (1 - mu) phi are both >= X_ASYM (so phi >= 14). With
// lgamma, digamma and x^2 trigamma written as their Stirling leading terms plus the remainders
// R, D, T of special::lgamma_rem, digamma_rem, x2_trigamma_rem, the terms of size phi log phi,
// log phi and phi cancel analytically (p + q = phi, mu + (1 - mu) = 1), leaving
//   l              = log(phi)/2 - log(2 pi)/2 + R(phi) - R(p) - R(q) + phi K
//                    + (log mu + log(1 - mu))/2 - log y - log(1 - y)
//   l_s = phi g_phi = 1/2 + p D(p) + q D(q) - phi D(phi) + phi K
//   y* - mu*       = log(y/mu) - log((1-y)/(1-mu)) + 1/(2p) - 1/(2q) + D(p) - D(q)
//   phi^2 h_phiphi = -1/2 + T(phi) - T(p) - T(q)
//   phi v h_muphi  = (y* - mu*) v phi - ((1-mu)(1/2 + T(p)) - mu (1/2 + T(q)))
//   v^2 h_mumu     = -(v phi + (1-mu)^2 (1/2 + T(p)) + mu^2 (1/2 + T(q)))
// with K = mu log(y/mu) + (1-mu) log((1-y)/(1-mu)) <= 0, minus the Kullback-Leibler divergence
// of Bernoulli(y) from Bernoulli(mu). For y near mu, K is second order in a = y - mu and is taken
// as mu log1pmx(a/mu) + (1-mu) log1pmx(-a/(1-mu)), the first-order terms cancelled exactly; a is
// y - mu or (1 - mu) - (1 - y), whichever subtracts the accurately known smaller of mu, 1 - mu.
// Evaluated as plain differences of lgamma / digamma values of size phi, l, l_s and l_ss lost
// about log10(phi) digits (l_s 1e-4 relative at phi = 1e9, l_ss 1e-9 already at phi = 1e3).
template <bool DERIVS, bool EXPECTED>
IRSL_FORCE_INLINE void beta_large_precision(const Response& r, double eta, const special::Logistic& lg,
                                 const PhiConst& pc, ObsDerivs& o) {
    const double y = r.y, mu = lg.mu, cmu = lg.cmu;
    const double phi = pc.phi, p = mu * phi, q = cmu * phi;
    const double lp1 = std::log1p(lg.e);
    const double log_mu = -lp1 - (eta < 0.0 ? -eta : 0.0), log_cmu = -lp1 - (eta > 0.0 ? eta : 0.0);
    const double a = mu <= 0.5 ? y - mu : cmu - (1.0 - y);
    // 1/mu and 1/(1 - mu) are 1 + e and (1 + e)/e (e = exp(-|eta|) >= ~1e-304 here, as p, q >= 7):
    // one division instead of four in this hot path
    const double inv_e = 1.0 / lg.e, big = 1.0 + lg.e;
    const double inv_mu = eta >= 0.0 ? big : big * inv_e, inv_cmu = eta >= 0.0 ? big * inv_e : big;
    double log_ratio_y, log_ratio_1my, K;  // log(y/mu), log((1-y)/(1-mu)), K
    if (std::fabs(a) <= 0.25 * std::min(mu, cmu)) {
        const special::Log1pPair r1 = special::log1p_pair_small(a * inv_mu);
        const special::Log1pPair r2 = special::log1p_pair_small(-a * inv_cmu);
        log_ratio_y = r1.log1p;
        log_ratio_1my = r2.log1p;
        K = mu * r1.log1pmx + cmu * r2.log1pmx;
    } else {
        log_ratio_y = r.log_y - log_mu;
        log_ratio_1my = r.log_1my - log_cmu;
        K = mu * log_ratio_y + cmu * log_ratio_1my;
    }
    const double rp = pc.inv_phi * inv_mu, rq = pc.inv_phi * inv_cmu;  // 1/p, 1/q
    o.l = 0.5 * pc.log_phi - special::HALF_LOG_2PI +
          (pc.rem_lg - special::lgamma_rem(rp) - special::lgamma_rem(rq)) + phi * K +
          0.5 * (log_mu + log_cmu) - r.log_y - r.log_1my;
    if (!DERIVS) return;
    const double dp = special::digamma_rem(rp), dq = special::digamma_rem(rq);
    const double Tp = special::x2_trigamma_rem(rp), Tq = special::x2_trigamma_rem(rq);
    const double tp = 0.5 + Tp, tq = 0.5 + Tq;
    const double resid = (log_ratio_y - log_ratio_1my) + (0.5 * rp - 0.5 * rq) + (dp - dq);
    const double vphi = lg.v * phi;
    const double lee_h = -(vphi + (cmu * cmu * tp + mu * mu * tq));
    const double les_h = -(cmu * tp - mu * tq);
    const double lss_h = -0.5 + (pc.rem_tg - Tp - Tq);
    o.le = vphi * resid;
    o.ls = 0.5 + (p * dp + q * dq - phi * pc.rem_dg) + phi * K;
    if (EXPECTED) {
        o.lee = lee_h;
        o.les = les_h;
        o.lss = lss_h;
        o.lee_obs = o.lee + (cmu - mu) * o.le;
        o.les_obs = o.les + o.le;
    } else {
        o.lee = vphi * (cmu - mu) * resid + lee_h;
        o.les = o.le + les_h;
        o.lss = o.ls + lss_h;
    }
}

// One observation; pc: precision constants of its question. DERIVS = false fills only o.l.
template <int FAMILY, bool DERIVS, bool EXPECTED>
IRSL_FORCE_INLINE void family_eval(const Response& r, double eta, const PhiConst& pc, ObsDerivs& o) {
    const double y = r.y, trials = r.trials, log_const = r.log_const;
    if (FAMILY == BERNOULLI || FAMILY == BINOMIAL) {
        const double n = (FAMILY == BERNOULLI) ? 1.0 : trials;
        // k log mu + (n - k) log(1 - mu), with n - k exact: no cancellation of k eta against
        // n log1pexp(eta) when k ~ n
        const double e = std::exp(-std::fabs(eta));
        const double lp1 = std::log1p(e);
        o.l = log_const - n * lp1 - (eta >= 0.0 ? (n - y) * eta : -(y * eta));
        if (DERIVS) {
            const double big = 1.0 / (1.0 + e), small = e * big;
            const double mu = eta >= 0.0 ? big : small, cmu = eta >= 0.0 ? small : big;
            o.le = y * cmu - (n - y) * mu;
            o.lee = -n * (big * small);
        }
        return;
    }
    const special::Logistic lg = special::logistic(eta);
    const double mu = lg.mu, cmu = lg.cmu, v = lg.v;
    const double phi = pc.phi, s = pc.log_phi;
    const double p = mu * phi, q = cmu * phi;
    if (FAMILY == BETA) {
        if (p >= special::X_ASYM && q >= special::X_ASYM) {
            beta_large_precision<DERIVS, EXPECTED>(r, eta, lg, pc, o);
            return;
        }
        const double log_y = r.log_y, log_1my = r.log_1my;
        // lgamma(p) + lgamma(q) = lg_part(p) + lg_part(q) - log(prod(p) prod(q) [p] [q]): one log,
        // except for a tiny p or q (or mu, 1 - mu), whose log comes from log_sigmoid.
        const special::SplitParts gp = special::lgamma_split<DERIVS>(p);
        const special::SplitParts gq = special::lgamma_split<DERIVS>(q);
        const bool log_p = gp.sing && (p < TINY || mu < TINY);
        const bool log_q = gq.sing && (q < TINY || cmu < TINY);
        double lg_pq;
        if (__builtin_expect(!(log_p || log_q), 1)) {
            const double prod = (gp.r.prod * gq.r.prod) * (gp.sing ? p : 1.0) * (gq.sing ? q : 1.0);
            lg_pq = gp.r.lg_part + gq.r.lg_part - std::log(prod);
        } else {
            double prod = gp.r.prod * gq.r.prod, logs = 0.0;
            if (log_p) logs += log_mu_of(lg, eta) + s; else if (gp.sing) prod *= p;
            if (log_q) logs += log_cmu_of(lg, eta) + s; else if (gq.sing) prod *= q;
            lg_pq = gp.r.lg_part + gq.r.lg_part - std::log(prod) - logs;
        }
        o.l = pc.lg - lg_pq + (p - 1.0) * log_y + (q - 1.0) * log_1my;
        if (!DERIVS) return;
        // Regular parts (digamma / trigamma remainders of the split); the singular terms 1/p,
        // 1/p^2 (and in q, phi) enter through v phi / p = 1 - mu, v phi / q = mu, mu / p = 1/phi:
        //   l_e += sp (1-mu) - sq mu,   l_s += sp + sq - sf,
        //   l_ee += -(sp + sq) v (observed) or -sp (1-mu)^2 - sq mu^2 (expected),
        //   l_es += 0 (observed) or -sp (1-mu) + sq mu (expected),
        //   l_ss += 0 (observed) or sf - sp - sq (expected).
        const double sp = gp.sing ? 1.0 : 0.0, sq = gq.sing ? 1.0 : 0.0, sf = pc.sing;
        const double resid = (log_y - log_1my) - (gp.r.dg - gq.r.dg);  // y* - mu*
        // mu (log y - psi(p)) + (1-mu) (log(1-y) - psi(q)): no cancellation when q -> 0
        const double g_phi = pc.dg + mu * (log_y - gp.r.dg) + cmu * (log_1my - gq.r.dg);
        const double vphi = v * phi;
        // v^2 h_mumu, phi v h_muphi (trigamma part) and phi^2 h_phiphi, ordered against overflow
        const double lee_h = -vphi * (vphi * (gp.r.tg + gq.r.tg));
        const double les_h = -vphi * (p * gp.r.tg - q * gq.r.tg);
        const double lss_h = phi * (phi * pc.tg - mu * (p * gp.r.tg) - cmu * (q * gq.r.tg));
        o.le = vphi * resid + (sp * cmu - sq * mu);
        o.ls = phi * g_phi + (sp + sq - sf);
        if (EXPECTED) {
            o.lee = lee_h - (sp * cmu * cmu + sq * mu * mu);
            o.les = les_h - (sp * cmu - sq * mu);
            o.lss = lss_h + (sf - sp - sq);
            o.lee_obs = o.lee + (cmu - mu) * o.le;
            o.les_obs = o.les + o.le;
        } else {
            o.lee = vphi * (cmu - mu) * resid + lee_h - (sp + sq) * v;
            o.les = vphi * resid + les_h;
            o.lss = phi * g_phi + lss_h;
        }
        return;
    }
    // BETA_BINOMIAL (observed information only; EXPECTED is rejected by the callers).
    // The header's formulas in terms of xa1 = x A', S1 = m - x A' and T = x S2 of gamma_ratio
    // (phi v A'(p; k) = (1-mu) p A'(p; k), ...):
    //   l_e  = (1-mu) xa1(p; k) - mu xa1(q; n-k)
    //   l_s  = xa1(p; k) + xa1(q; n-k) - xa1(phi; n)      (= S1(phi; n) - S1(p; k) - S1(q; n-k))
    //   l_ee = -v (xa1(p; k) + xa1(q; n-k)) + (1-mu)^2 T(p; k) + mu^2 T(q; n-k)
    //   l_es = (1-mu) T(p; k) - mu T(q; n-k)
    //   l_ss = T(p; k) + T(q; n-k) - T(phi; n)
    // No 1/p singularity and no phi^2 factor; l_s takes each term in its smaller form (add_xa1),
    // which avoids the phi-fold cancellation near the binomial limit (phi >> n).
    const double k = y, n = trials;
    const bool tiny_p = p < TINY || mu < TINY, tiny_q = q < TINY || cmu < TINY;
    double lp = 0.0, lq = 0.0;
    if (tiny_p) lp = log_mu_of(lg, eta) + s;
    if (tiny_q) lq = log_cmu_of(lg, eta) + s;
    const GammaRatio rp = gamma_ratio<DERIVS>(p, k, tiny_p ? &lp : nullptr);
    const GammaRatio rq = gamma_ratio<DERIVS>(q, n - k, tiny_q ? &lq : nullptr);
    const GammaRatio rf = gamma_ratio<DERIVS>(phi, n, &s);
    o.l = log_const + rp.a + rq.a - rf.a;
    if (!DERIVS) return;
    o.le = cmu * rp.xa1 - mu * rq.xa1;
    double ints = 0.0, rest = 0.0;  // partial sums of ints stay within [-n, n]: exact
    add_xa1(rp, k, 1.0, ints, rest);
    add_xa1(rq, n - k, 1.0, ints, rest);
    add_xa1(rf, n, -1.0, ints, rest);
    o.ls = ints + rest;
    o.lee = -v * (rp.xa1 + rq.xa1) + (cmu * cmu * rp.t + mu * mu * rq.t);
    o.les = cmu * rp.t - mu * rq.t;
    o.lss = rp.t + rq.t - rf.t;
}

// log C(n, k) for the count families (0 for beta / bernoulli): with j = min(k, n - k),
// log C = A(n - j + 1; j) - lgamma(j + 1), A as in gamma_ratio (a finite product for j <= 8, else
// the Stirling difference): no cancellation of lgamma(n + 1) against lgamma(n - j + 1).
inline double log_binom_coef(double n, double k) {
    const double j = std::min(k, n - k);
    if (j <= 0.0) return 0.0;
    return gamma_ratio<false>(n - j + 1.0, j, nullptr).a - special::lgamma(j + 1.0);
}

}  // namespace irsl
