// special.hpp -- log-gamma, digamma, trigamma and logistic helpers for x > 0.
//
// Pure C++ (no Python headers), header-only so the per-observation family code inlines them.
// All functions are thread-safe (no global state; std::lgamma is NOT used because glibc's version
// writes the global `signgam`).
//
// Method (positive arguments only):
//   * x >= X_ASYM (= 7): asymptotic (Stirling / Bernoulli-number) series, DLMF 5.11.1, 5.15.8:
//       lgamma(x)   = (x - 1/2) log x - x + log(2 pi)/2 + sum_k B_2k / (2k (2k-1) x^(2k-1))
//       digamma(x)  = log x - 1/(2x) - sum_k B_2k / (2k x^(2k))
//       trigamma(x) = 1/x + 1/(2x^2) + sum_k B_2k / x^(2k+1)
//     truncated after 7 (lgamma, digamma) and 8 (trigamma) terms: at x = 7 the first omitted term
//     is below 1e-15 (lgamma), 7e-15 (digamma) and 3e-14 (trigamma) relative. A lower threshold
//     means fewer recurrence steps (this is the hot path of the beta family).
//   * x < X_ASYM: upward recurrence (DLMF 5.5.1, 5.15.5) to x + m >= X_ASYM:
//       lgamma(x)   = lgamma(x + m) - log(x (x+1) ... (x+m-1))
//       digamma(x)  = digamma(x + m) - sum_{i<m} 1/(x+i)
//       trigamma(x) = trigamma(x + m) + sum_{i<m} 1/(x+i)^2
//     one division per step, shared by the three functions (lgamma_derivs below).
//   * Near the zeros of lgamma (x = 1, 2) and of digamma (x0 = 1.46163...) the recurrence loses
//     relative accuracy by cancellation, so there we use Taylor series (coefficients computed with
//     mpmath at 50 digits; scripts in the comments):
//       lgamma(2 + z) = (1 - gamma) z + sum_{k>=2} (-1)^k (zeta(k) - 1) / k  z^k     (|z| <= 0.1)
//       lgamma(1 + z) = lgamma(2 + z) - log1p(z)                                       (|z| <= 0.1)
//       digamma(x0 + h) = sum_{k>=1} psi^(k)(x0) / k!  h^k,  h = (x - x0_hi) - x0_lo    (|h| <= 0.1)
//     as Cephes (lgam) and Boost (digamma_imp_1_2) do with rational approximations.
// Accuracy (tests/test_special.py): <= 1e-12 relative to SciPy on [1e-8, 1e8].
// For the families: lgamma_split (singular terms of small arguments apart), log1pmx and
// gamma_ratio_asym (lgamma, digamma, trigamma differences over a shift m without cancellation).
#pragma once

#include <cmath>

namespace irsl {
namespace special {

// The hot helpers are forced inline so that they are compiled into the caller's ISA clone
// (IRSL_HOT in kernel.cpp): an out-of-line copy is built for the baseline ISA only (no FMA).
#if defined(__GNUC__)
#define IRSL_FORCE_INLINE inline __attribute__((always_inline))
#else
#define IRSL_FORCE_INLINE inline
#endif

constexpr double X_ASYM = 7.0;
constexpr double HALF_LOG_2PI = 0.91893853320467274178;

// lgamma(2 + z) = sum_{k=1}^{13} LG2[k-1] z^k  (|z| <= 0.1: truncation < 1e-17 relative); LG2[0] = 1 - euler_gamma,
// LG2[k-1] = (-1)^k (zeta(k) - 1) / k.   (mpmath: [(-1)**k*(zeta(k)-1)/k for k in 2..21])
constexpr double LG2[13] = {
    4.22784335098467134e-01, 3.22467033424113203e-01, -6.73523010531981020e-02,
    2.05808084277845464e-02, -7.38555102867398568e-03, 2.89051033074152336e-03,
    -1.19275391170326102e-03, 5.09669524743042450e-04, -2.23154758453579386e-04,
    9.94575127818085310e-05, -4.49262367381331420e-05, 2.05072127756706911e-05,
    -9.43948827526839672e-06};

// Positive root of digamma, split so that (x - X0_HI) is exact near the root (Sterbenz).
constexpr double DIGAMMA_X0_HI = 1.4616321449683622;
constexpr double DIGAMMA_X0_LO = 9.549995429965697e-17;
// digamma(x0 + h) = sum_{k=1}^{15} DG0[k-1] h^k  (|h| <= 0.1: truncation < 1e-17 relative), DG0[k-1] = polygamma(k, x0) / k!.
constexpr double DG0[15] = {
    9.67672245447621204e-01, -4.42763168983592081e-01, 2.58499760955651026e-01,
    -1.63942705442406522e-01, 1.07824050691262371e-01, -7.21995612564547140e-02,
    4.88042881641431101e-02, -3.31611264748473619e-02, 2.25976482322181038e-02,
    -1.54247659049489595e-02, 1.05387916166121750e-02, -7.20453438635686866e-03,
    4.92678139572985327e-03, -3.36980165543932821e-03, 2.30512632673492797e-03};

// z * (c[0] + c[1] z + ... + c[n-1] z^(n-1)) by Horner's rule.
template <int NC>
inline double zpoly(const double (&c)[NC], double z) {
    double p = c[NC - 1];
    for (int k = NC - 2; k >= 0; --k) p = p * z + c[k];  // (no std::fma: a libcall without -mfma)
    return p * z;
}

// lgamma(x) on the Taylor windows |x - 1| <= 0.1 and |x - 2| <= 0.1 (outside them the
// recurrence has relative error < 2e-13 since |lgamma| > 0.038 there).
inline double lgamma_near_zeros(double x) {
    if (x < 1.5) {
        const double z = x - 1.0;  // exact (Sterbenz)
        return zpoly(LG2, z) - std::log1p(z);
    }
    return zpoly(LG2, x - 2.0);
}

inline bool in_lgamma_window(double x) {
    return (x >= 0.9 && x <= 1.1) || (x >= 1.9 && x <= 2.1);
}

inline double digamma_near_root(double x) {
    const double h = (x - DIGAMMA_X0_HI) - DIGAMMA_X0_LO;
    return zpoly(DG0, h);
}

inline bool in_digamma_window(double x) { return x >= 1.36 && x <= 1.56; }

// Asymptotic series at x >= X_ASYM (see the header comment), as their remainders after the
// leading terms, r = 1/x:
//   lgamma(x)      = (x - 1/2) log x - x + log(2 pi)/2 + lgamma_rem(r)
//   digamma(x)     = log x - 1/(2x) - digamma_rem(r)
//   x^2 trigamma(x) = x + 1/2 + x2_trigamma_rem(r)
// The remainders are O(1/x) or smaller; the beta family at large precision needs them apart
// because there the leading terms of lgamma(phi) - lgamma(mu phi) - lgamma((1-mu) phi) cancel.
inline double lgamma_rem(double r) {
    const double r2 = r * r;
    // B_2k / (2k (2k-1)), k = 1..7
    return r * (1.0 / 12 + r2 * (-1.0 / 360 + r2 * (1.0 / 1260 + r2 * (-1.0 / 1680 +
                r2 * (1.0 / 1188 + r2 * (-691.0 / 360360 + r2 * (1.0 / 156)))))));
}

inline double digamma_rem(double r) {
    const double r2 = r * r;
    // B_2k / (2k), k = 1..7
    return r2 * (1.0 / 12 + r2 * (-1.0 / 120 + r2 * (1.0 / 252 + r2 * (-1.0 / 240 +
                 r2 * (1.0 / 132 + r2 * (-691.0 / 32760 + r2 * (1.0 / 12)))))));
}

inline double x2_trigamma_rem(double r) {
    const double r2 = r * r;
    // B_2k, k = 1..8
    return r * (1.0 / 6 + r2 * (-1.0 / 30 + r2 * (1.0 / 42 + r2 * (-1.0 / 30 + r2 * (5.0 / 66 +
                r2 * (-691.0 / 2730 + r2 * (7.0 / 6 + r2 * (-3617.0 / 510))))))));
}

inline double lgamma_asym(double x, double logx) {
    return (x - 0.5) * logx - x + HALF_LOG_2PI + lgamma_rem(1.0 / x);
}

inline double digamma_asym(double x, double logx) {
    const double r = 1.0 / x;
    return logx - 0.5 * r - digamma_rem(r);
}

inline double trigamma_asym(double x) {
    const double r = 1.0 / x;
    return r * (1.0 + r * (0.5 + x2_trigamma_rem(r)));
}

// lgamma, digamma and trigamma at the same x > 0, sharing the recurrence.
// DERIVS = false computes only lg (dg, tg are left at 0).
struct LogGammaDerivs {
    double lg = 0.0, dg = 0.0, tg = 0.0;
};

// The same, with lgamma left unfinished as  lgamma(x) = lg_part - log(prod)  so that callers
// needing the sum of several lgammas take a single logarithm of the product of the `prod`s.
// The recurrence takes two steps per division:
//   1/x + 1/(x+1) = (2x+1) r,  1/x^2 + 1/(x+1)^2 = (x^2 + (x+1)^2) r^2,  r = 1/(x (x+1)).
struct LogGammaParts {
    double lg_part = 0.0, prod = 1.0, dg = 0.0, tg = 0.0;
};

template <bool DERIVS>
IRSL_FORCE_INLINE LogGammaParts lgamma_parts(double x) {
    LogGammaParts out;
    const double x_in = x;
    double prod = 1.0, s1 = 0.0, s2 = 0.0;
    while (x < X_ASYM - 1.0) {
        const double x1 = x + 1.0;
        const double xx1 = x * x1;
        prod *= xx1;
        if (DERIVS) {
            const double r = 1.0 / xx1;
            s1 += (x + x1) * r;
            s2 += (x * x + x1 * x1) * (r * r);
        }
        x += 2.0;
    }
    if (x < X_ASYM) {
        prod *= x;
        if (DERIVS) {
            const double r = 1.0 / x;
            s1 += r;
            s2 += r * r;
        }
        x += 1.0;
    }
    const double logx = std::log(x);
    if (in_lgamma_window(x_in)) {
        out.lg_part = lgamma_near_zeros(x_in);
    } else {
        out.lg_part = lgamma_asym(x, logx);
        out.prod = prod;
    }
    if (DERIVS) {
        out.dg = in_digamma_window(x_in) ? digamma_near_root(x_in) : digamma_asym(x, logx) - s1;
        out.tg = trigamma_asym(x) + s2;
    }
    return out;
}

// Split evaluation for the family code (x > 0, possibly tiny or 0 after underflow): below X_SPLIT
// the singular leading terms are returned implicitly, to be combined analytically by the caller:
//   lgamma(x) = r.lg_part - log(r.prod) - sing log x,  digamma(x) = r.dg - sing / x,
//   trigamma(x) = r.tg + sing / x^2,
// with r the parts of lgamma at 1 + x (DLMF 5.5.1), which stay bounded as x -> 0. Used where
// 1/x^2 would overflow (x < ~1e-154) or products such as v^2 phi^2 trigamma(mu phi) would cancel.
constexpr double X_SPLIT = 0.5;

struct SplitParts {
    LogGammaParts r;
    bool sing = false;
};

template <bool DERIVS>
IRSL_FORCE_INLINE SplitParts lgamma_split(double x) {
    SplitParts out;
    out.sing = x < X_SPLIT;
    out.r = lgamma_parts<DERIVS>(out.sing ? 1.0 + x : x);
    return out;
}

template <bool DERIVS>
inline LogGammaDerivs lgamma_derivs(double x) {
    const LogGammaParts p = lgamma_parts<DERIVS>(x);
    LogGammaDerivs out;
    out.lg = p.prod == 1.0 ? p.lg_part : p.lg_part - std::log(p.prod);
    out.dg = p.dg;
    out.tg = p.tg;
    return out;
}

inline double lgamma(double x) { return lgamma_derivs<false>(x).lg; }

inline double digamma(double x) {
    if (in_digamma_window(x)) return digamma_near_root(x);
    double s1 = 0.0;
    while (x < X_ASYM) {
        s1 += 1.0 / x;
        x += 1.0;
    }
    return digamma_asym(x, std::log(x)) - s1;
}

inline double trigamma(double x) {
    double s2 = 0.0;
    while (x < X_ASYM) {
        const double r = 1.0 / x;
        s2 += r * r;
        x += 1.0;
    }
    return trigamma_asym(x) + s2;
}

// log1p(t) - t for t > -1, without cancellation; L = log1p(t) from the caller. For |t| <= 0.25
// with z = t / (2 + t) (so log1p(t) = 2 atanh z, t = 2z / (1 - z)):
//   log1p(t) - t = -2 z^2 / (1 - z) + 2 z^3 (1/3 + z^2/5 + ... + z^16/19)
// (the second term is at most |z|/3 of the first: no cancellation for either sign of t;
// |z| <= 1/7: truncation < 1e-16 relative); for |t| > 0.25, L - t loses at most one digit.
inline double atanh_series(double z2) {
    return 1.0 / 3 + z2 * (1.0 / 5 + z2 * (1.0 / 7 + z2 * (1.0 / 9 + z2 * (1.0 / 11 + z2 * (1.0 / 13 +
           z2 * (1.0 / 15 + z2 * (1.0 / 17 + z2 * (1.0 / 19))))))));
}

inline double log1pmx(double t, double L) {
    if (t > 0.25 || t < -0.25) return L - t;
    const double z = t / (2.0 + t), z2 = z * z;
    return -2.0 * z2 / (1.0 - z) + 2.0 * z * z2 * atanh_series(z2);
}

// log1p(t) and log1p(t) - t together for |t| <= 0.25, from the same series, with one division
// and no logarithm: log1p(t) = 2 z + 2 z^3 (1/3 + z^2/5 + ...), z = t / (2 + t) (see log1pmx),
// and t - 2 z = t z, so log1p(t) - t = 2 z^3 (...) - t z (the first term is at most |z|/3 of
// the second: no cancellation).
struct Log1pPair {
    double log1p, log1pmx;
};

inline Log1pPair log1p_pair_small(double t) {
    const double z = t / (2.0 + t), z2 = z * z;
    const double odd = 2.0 * z * z2 * atanh_series(z2);
    return {2.0 * z + odd, odd - t * z};
}

// Differences of the asymptotic series at x and y = x + m (x >= X_ASYM, m > 0), without the
// cancellation of lgamma(y) - lgamma(x) when x >> m. With t = m/x, L = log1p(t), u = m/y, w = x/y
// and y^-j - x^-j = -x^-j u G_j, G_j = 1 + w + ... + w^(j-1) (all terms positive):
//   A(x; m)  = lgamma(y) - lgamma(x) = m log x + x (L - t) + (m - 1/2) L - u sum_k c_k x^(1-2k) G_(2k-1)
//   A'(x; m) = psi(y) - psi(x)       = L + u/(2x) + u sum_k d_k x^-2k G_2k
//   A''      = psi1(y) - psi1(x)     = -u (1/x + G_2/(2x^2) + sum_k B_2k x^(-2k-1) G_(2k+1))
// and the two sums the families need, which are O(m^2/x) and O(m^2/x^2) for x >> m:
//   S1(x; m) = sum_{i<m} i/(x+i)   = m - x A'  = -x (L - t) - u/2 - u x sum_k d_k x^-2k G_2k
//   S2(x; m) = sum_{i<m} i/(x+i)^2 = A' + x A'' = (L - t) + t u - u w/(2x)
//                                               + u sum_k x^-2k (d_k G_2k - B_2k G_(2k+1))
// (c_k, d_k, B_2k as in lgamma_asym, digamma_asym, trigamma_asym; same truncation).
struct RatioSums {
    double a = 0.0, xa1 = 0.0, s1 = 0.0, s2 = 0.0;
};

template <bool DERIVS>
inline RatioSums gamma_ratio_asym(double x, double m, double logx) {
    RatioSums out;
    const double y = x + m, r = 1.0 / x, t = m * r;
    const double L = std::log1p(t), lm = log1pmx(t, L);
    const double iy = 1.0 / y, u = m * iy, w = x * iy;
    const double r2 = r * r;
    // G_(j+2) = (1 + w) + w^2 G_j: two independent recurrences (odd, even j)
    const double c = 1.0 + w, w2 = w * w;
    double G[18];
    G[1] = 1.0;
    G[2] = c;
    for (int j = 1; j < 16; ++j) G[j + 2] = c + w2 * G[j];
    const double sa =
        r * (G[1] / 12 + r2 * (-G[3] / 360 + r2 * (G[5] / 1260 + r2 * (-G[7] / 1680 +
             r2 * (G[9] / 1188 + r2 * (-691.0 * G[11] / 360360 + r2 * (G[13] / 156)))))));
    out.a = m * logx + x * lm + (m - 0.5) * L - u * sa;
    if (DERIVS) {
        const double sd =
            r2 * (G[2] / 12 + r2 * (-G[4] / 120 + r2 * (G[6] / 252 + r2 * (-G[8] / 240 +
                  r2 * (G[10] / 132 + r2 * (-691.0 * G[12] / 32760 + r2 * (G[14] / 12)))))));
        // x * sum_k B_2k x^(-2k-1) G_(2k+1), k = 1..8
        const double sb =
            r2 * (G[3] / 6 + r2 * (-G[5] / 30 + r2 * (G[7] / 42 + r2 * (-G[9] / 30 +
                  r2 * (5.0 * G[11] / 66 + r2 * (-691.0 * G[13] / 2730 + r2 * (7.0 * G[15] / 6 +
                  r2 * (-3617.0 * G[17] / 510))))))));
        out.xa1 = x * L + 0.5 * u + u * (x * sd);  // x A' (the two sum to x t = m)
        out.s1 = -x * lm - 0.5 * u - u * (x * sd);
        out.s2 = lm + t * u - 0.5 * u * w * r + u * (sd - sb);
    }
    return out;
}

// log(1 + exp(x)) without overflow or loss of accuracy.
inline double log1pexp(double x) {
    return x > 0.0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

// log(logistic(x)) = -log1pexp(-x).
inline double log_sigmoid(double x) { return -log1pexp(-x); }

// mu = logistic(eta), its complement 1 - mu and v = mu (1 - mu), all without cancellation:
// with e = exp(-|eta|), the larger of (mu, 1-mu) is 1/(1+e), the smaller e/(1+e).
// Also e itself, so that log mu = -log1p(e) - max(-eta, 0) and log(1 - mu) = -log1p(e) - max(eta, 0).
struct Logistic {
    double mu, cmu, v, e;
};

inline Logistic logistic(double eta) {
    const double e = std::exp(-std::fabs(eta));
    const double big = 1.0 / (1.0 + e);
    const double small = e * big;
    Logistic out;
    if (eta >= 0.0) {
        out.mu = big;
        out.cmu = small;
    } else {
        out.mu = small;
        out.cmu = big;
    }
    out.v = big * small;
    out.e = e;
    return out;
}

}  // namespace special
}  // namespace irsl
