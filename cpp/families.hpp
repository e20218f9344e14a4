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
//  * bernoulli, y in {0, 1}:  l = y eta - log1pexp(eta),  l_e = y - mu,  l_ee = -v.
//  * binomial, k of n:  l = log C(n,k) + k eta - n log1pexp(eta),  l_e = k (1-mu) - (n-k) mu,
//      l_ee = -n v.
//  * beta_binomial, k of n, p ~ Beta(mu phi, (1-mu) phi) (observed information only):
//      l = log C(n,k) + A(p; k) + A(q; n-k) - A(phi; n),  A(x; m) = lgamma(x + m) - lgamma(x)
//      g_mu = phi (A'(p; k) - A'(q; n-k)),  A'(x; m) = psi(x + m) - psi(x)
//      g_phi = mu A'(p; k) + (1-mu) A'(q; n-k) - A'(phi; n)
//      h_mumu = phi^2 (A''(p; k) + A''(q; n-k)),  A''(x; m) = psi1(x + m) - psi1(x)
//      h_muphi = (A'(p; k) - A'(q; n-k)) + phi (mu A''(p; k) - (1-mu) A''(q; n-k))
//      h_phiphi = mu^2 A''(p; k) + (1-mu)^2 A''(q; n-k) - A''(phi; n)
//    A(x; 0) = 0 exactly, so k = 0 and k = n are exact; for m <= 8, A is the finite sum
//    log prod (x + i), A' = sum 1/(x+i), A'' = -sum 1/(x+i)^2 (no cancellation for large x).
// The constant log C(n, k) is precomputed once per data set (log_const, see kernel.hpp) and added.
#pragma once

#include <cstdint>

#include "special.hpp"

namespace irsl {

enum Family : int { BETA = 0, BERNOULLI = 1, BINOMIAL = 2, BETA_BINOMIAL = 3 };

struct ObsDerivs {
    double l = 0.0, le = 0.0, ls = 0.0, lee = 0.0, les = 0.0, lss = 0.0;
};

// Quantities that depend only on the precision of a question: computed once per item per pass.
struct PhiConst {
    double phi = 1.0;                      // exp(log_phi)
    double lg = 0.0, dg = 0.0, tg = 0.0;   // lgamma, digamma, trigamma of phi (beta only)
};

template <int FAMILY>
inline PhiConst make_phi_const(double log_phi) {
    PhiConst c;
    if (FAMILY == BETA || FAMILY == BETA_BINOMIAL) c.phi = std::exp(log_phi);
    if (FAMILY == BETA) {
        const special::LogGammaDerivs g = special::lgamma_derivs<true>(c.phi);
        c.lg = g.lg;
        c.dg = g.dg;
        c.tg = g.tg;
    }
    return c;
}

// A(x; m) = lgamma(x + m) - lgamma(x) and its first two x-derivatives (see the header).
struct GammaRatio {
    double a = 0.0, a1 = 0.0, a2 = 0.0;
};

template <bool DERIVS>
inline GammaRatio gamma_ratio(double x, double m) {
    GammaRatio r;
    if (m == 0.0) return r;
    if (m <= 8.0) {
        double prod = 1.0;
        const int mi = static_cast<int>(m);
        for (int i = 0; i < mi; ++i) {
            const double xi = x + i;
            prod *= xi;
            if (DERIVS) {
                const double inv = 1.0 / xi;
                r.a1 += inv;
                r.a2 -= inv * inv;
            }
        }
        r.a = std::log(prod);
        return r;
    }
    const special::LogGammaDerivs hi = special::lgamma_derivs<DERIVS>(x + m);
    const special::LogGammaDerivs lo = special::lgamma_derivs<DERIVS>(x);
    r.a = hi.lg - lo.lg;
    r.a1 = hi.dg - lo.dg;
    r.a2 = hi.tg - lo.tg;
    return r;
}

// The data of one observation. y: response (k for counts); trials: n (counts only); log_const:
// log C(n,k) or 0; log_y, log_1my: log y and log1p(-y) (beta only), precomputed once per data set
// because they are the two most expensive terms of a beta evaluation that do not depend on the
// parameters.
struct Response {
    double y = 0.0, trials = 0.0, log_const = 0.0, log_y = 0.0, log_1my = 0.0;
};

// One observation; pc: precision constants of its question. DERIVS = false fills only o.l.
template <int FAMILY, bool DERIVS, bool EXPECTED>
inline void family_eval(const Response& r, double eta, const PhiConst& pc, ObsDerivs& o) {
    const double y = r.y, trials = r.trials, log_const = r.log_const;
    if (FAMILY == BERNOULLI || FAMILY == BINOMIAL) {
        const double n = (FAMILY == BERNOULLI) ? 1.0 : trials;
        o.l = log_const + y * eta - n * special::log1pexp(eta);
        if (DERIVS) {
            const special::Logistic lg = special::logistic(eta);
            o.le = y * lg.cmu - (n - y) * lg.mu;
            o.lee = -n * lg.v;
        }
        return;
    }
    const special::Logistic lg = special::logistic(eta);
    const double phi = pc.phi;
    const double p = lg.mu * phi, q = lg.cmu * phi;
    if (FAMILY == BETA) {
        const double log_y = r.log_y, log_1my = r.log_1my;
        // lgamma(p) + lgamma(q) = lg_part(p) + lg_part(q) - log(prod(p) prod(q)): one log.
        const special::LogGammaParts gp = special::lgamma_parts<DERIVS>(p);
        const special::LogGammaParts gq = special::lgamma_parts<DERIVS>(q);
        const double lg_pq = gp.lg_part + gq.lg_part - std::log(gp.prod * gq.prod);
        o.l = pc.lg - lg_pq + (p - 1.0) * log_y + (q - 1.0) * log_1my;
        if (!DERIVS) return;
        const double resid = (log_y - log_1my) - (gp.dg - gq.dg);  // y* - mu*
        const double g_mu = phi * resid;
        // mu (log y - psi(p)) + (1-mu) (log(1-y) - psi(q)): no cancellation when q -> 0
        const double g_phi = pc.dg + lg.mu * (log_y - gp.dg) + lg.cmu * (log_1my - gq.dg);
        const double h_mumu = -phi * phi * (gp.tg + gq.tg);
        const double h_muphi_tri = -phi * (lg.mu * gp.tg - lg.cmu * gq.tg);
        const double h_phiphi = pc.tg - lg.mu * lg.mu * gp.tg - lg.cmu * lg.cmu * gq.tg;
        o.le = lg.v * g_mu;
        o.ls = phi * g_phi;
        if (EXPECTED) {
            o.lee = lg.v * lg.v * h_mumu;
            o.les = phi * lg.v * h_muphi_tri;
            o.lss = phi * phi * h_phiphi;
        } else {
            o.lee = lg.v * (lg.cmu - lg.mu) * g_mu + lg.v * lg.v * h_mumu;
            o.les = phi * lg.v * (resid + h_muphi_tri);
            o.lss = o.ls + phi * phi * h_phiphi;
        }
        return;
    }
    // BETA_BINOMIAL (observed information only; EXPECTED is rejected by the callers).
    const double k = y, n = trials;
    const GammaRatio rp = gamma_ratio<DERIVS>(p, k);
    const GammaRatio rq = gamma_ratio<DERIVS>(q, n - k);
    const GammaRatio rf = gamma_ratio<DERIVS>(phi, n);
    o.l = log_const + rp.a + rq.a - rf.a;
    if (!DERIVS) return;
    const double diff = rp.a1 - rq.a1;
    const double g_mu = phi * diff;
    const double g_phi = lg.mu * rp.a1 + lg.cmu * rq.a1 - rf.a1;
    const double h_mumu = phi * phi * (rp.a2 + rq.a2);
    const double h_muphi = diff + phi * (lg.mu * rp.a2 - lg.cmu * rq.a2);
    const double h_phiphi = lg.mu * lg.mu * rp.a2 + lg.cmu * lg.cmu * rq.a2 - rf.a2;
    o.le = lg.v * g_mu;
    o.ls = phi * g_phi;
    o.lee = lg.v * (lg.cmu - lg.mu) * g_mu + lg.v * lg.v * h_mumu;
    o.les = phi * lg.v * h_muphi;
    o.lss = o.ls + phi * phi * h_phiphi;
}

// log C(n, k) for the count families (0 for beta / bernoulli).
inline double log_binom_coef(double n, double k) {
    if (k == 0.0 || k == n) return 0.0;
    return special::lgamma(n + 1.0) - special::lgamma(k + 1.0) - special::lgamma(n - k + 1.0);
}

}  // namespace irsl
