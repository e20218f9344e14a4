// kernel.cpp -- implementation of the accumulation passes declared in kernel.hpp.
//
// Each pass is a template on the family (so family_eval inlines), on the information type and on
// the latent dimension DT (1 and 2 are compiled as fast paths; DT = 0 means "D at run time").
// Symmetric blocks are accumulated in their upper triangle and mirrored once at the end.
#include "kernel.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "families.hpp"
#include "ordered_reduce.hpp"

namespace irsl {

// IRSL_HOT: the per-chunk loops are built twice on x86-64 Linux with GCC — for the baseline ISA
// and for x86-64-v3 (AVX2, FMA) — and the loader picks the best at run time (ifunc), so one
// build is portable and still uses fused multiply-adds in the special-function polynomials.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define IRSL_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define IRSL_HOT
#endif

#if defined(__GNUC__)
#define IRSL_NOINLINE __attribute__((noinline))
#else
#define IRSL_NOINLINE
#endif


// The response terms of observation t (see Response in families.hpp).
template <int FAMILY>
inline Response response_at(const DataView& X, int64_t t) {
    Response r;
    r.y = X.y[t];
    if (X.trials) r.trials = X.trials[t];
    if (X.log_const) r.log_const = X.log_const[t];
    if (FAMILY == BETA) {
        if (X.log_y) {
            r.log_y = X.log_y[2 * t];
            r.log_1my = X.log_y[2 * t + 1];
        } else {
            r.log_y = std::log(r.y);
            r.log_1my = std::log1p(-r.y);
        }
    }
    return r;
}


// ----------------------------------------------------------------------------------------------
// Threads and chunks
// ----------------------------------------------------------------------------------------------

int resolve_n_threads(bool is_none, long long n_threads) {
#ifdef _OPENMP
    const int max_threads = omp_get_max_threads();
    const int procs = omp_get_num_procs();
#else
    const int max_threads = 1;
    const int procs = 1;
#endif
    if (is_none) return std::max(1, max_threads);
    if (n_threads == -1) return std::max(1, procs);
    if (n_threads >= 1) {
        if (n_threads > 1024) throw std::invalid_argument("n_threads: at most 1024 threads");
        return static_cast<int>(n_threads);
    }
    throw std::invalid_argument("n_threads: expected None, -1 (all cores) or a positive integer, got " +
                                std::to_string(n_threads));
}

// Chunks of at least 4096 observations, at most 128 of them: a function of n only.
Chunking make_chunks(int64_t n) {
    Chunking c;
    if (n <= 0) return c;
    c.len = std::max<int64_t>(4096, (n + 127) / 128);
    c.n_chunks = (n + c.len - 1) / c.len;
    return c;
}

namespace {

// ----------------------------------------------------------------------------------------------
// Compile-time dispatch helpers
// ----------------------------------------------------------------------------------------------

template <int V>
using Int = std::integral_constant<int, V>;

// f(Int<FAMILY>, std::bool_constant<EXPECTED>)
template <typename F>
void dispatch_family(int family, bool expected, F&& f) {
    switch (family) {
        case BETA:
            if (expected)
                f(Int<BETA>{}, std::true_type{});
            else
                f(Int<BETA>{}, std::false_type{});
            return;
        case BERNOULLI: f(Int<BERNOULLI>{}, std::false_type{}); return;
        case BINOMIAL: f(Int<BINOMIAL>{}, std::false_type{}); return;
        case BETA_BINOMIAL: f(Int<BETA_BINOMIAL>{}, std::false_type{}); return;
        default: throw std::invalid_argument("family: unknown family code");
    }
}

// f(Int<DT>) with DT = D for D in {1, 2}, DT = 0 (dynamic) otherwise.
template <typename F>
void dispatch_dim(int D, F&& f) {
    if (D < 1 || D > MAX_DIM) throw std::invalid_argument("D: latent dimension out of range");
    if (D == 1)
        f(Int<1>{});
    else if (D == 2)
        f(Int<2>{});
    else
        f(Int<0>{});
}

template <int FAMILY>
std::vector<PhiConst> phi_consts(const double* log_phi, int64_t N, int n_threads) {
    std::vector<PhiConst> pc(static_cast<size_t>(N));
#pragma omp parallel for schedule(static) num_threads(n_threads)
    for (int64_t j = 0; j < N; ++j) pc[j] = make_phi_const<FAMILY>(log_phi[j]);
    return pc;
}

template <int DT>
inline double linear_predictor(const double* a_j, double d_j, const double* th, int D_dyn) {
    const int D = DT > 0 ? DT : D_dyn;
    double eta = d_j;
    for (int k = 0; k < D; ++k) eta += a_j[k] * th[k];
    return eta;
}

// Upper triangle of the (D+2)x(D+2) item block with regressor x = (theta, 1), weights already in
// the derivatives:  [[lee x x', les x], [., lss]];  gradient (le x, ls).
template <int DT>
inline void add_item_block(double* g, double* h, const double* th, int D_dyn, double le, double ls,
                           double lee, double les, double lss) {
    if constexpr (DT == 1) {
        // D = 1 written out (x = (theta, 1); the products with 1 are exact, so the sums are those
        // of the general loop): no x[] on the stack, whose 8-byte stores the compiler's vector
        // loads of x could not forward (a store-forwarding stall per observation)
        const double t = th[0], lt = lee * t;
        g[0] += le * t;
        g[1] += le;
        g[2] += ls;
        h[0] += lt * t;
        h[1] += lt;
        h[2] += les * t;
        h[4] += lee;
        h[5] += les;
        h[8] += lss;
        return;
    }
    const int D = DT > 0 ? DT : D_dyn;
    const int P2 = D + 2;
    double x[MAX_DIM + 1];
    for (int k = 0; k < D; ++k) x[k] = th[k];
    x[D] = 1.0;
    for (int r = 0; r <= D; ++r) {
        g[r] += le * x[r];
        const double lx = lee * x[r];
        for (int c = r; c <= D; ++c) h[r * P2 + c] += lx * x[c];
        h[r * P2 + D + 1] += les * x[r];
    }
    g[D + 1] += ls;
    h[(D + 1) * P2 + D + 1] += lss;
}

// Copy the upper triangle of `count` consecutive P x P blocks into their lower triangle.
void mirror_blocks(double* h, int64_t count, int P) {
    if (h == nullptr) return;
    for (int64_t b = 0; b < count; ++b) {
        double* blk = h + b * P * P;
        for (int r = 0; r < P; ++r)
            for (int c = r + 1; c < P; ++c) blk[c * P + r] = blk[r * P + c];
    }
}

// Add rows [lo, hi] of a private buffer (row width `width`) to `dst` and zero them again.
void flush_rows(double* dst, double* buf, int64_t lo, int64_t hi, int64_t width) {
    if (dst == nullptr || hi < lo) return;
    for (int64_t k = lo * width; k < (hi + 1) * width; ++k) {
        dst[k] += buf[k];
        buf[k] = 0.0;
    }
}

// ----------------------------------------------------------------------------------------------
// loglik
// ----------------------------------------------------------------------------------------------

template <int FAMILY, int DT>
IRSL_HOT double loglik_chunk(const DataView& X, const double* theta, const ItemParams& P,
                             const PhiConst* pc, int D, int64_t t0, int64_t t1) {
    double ll = 0.0;
    for (int64_t t = t0; t < t1; ++t) {
        const int64_t i = X.model[t], j = X.item[t];
        const double eta = linear_predictor<DT>(P.a + j * D, P.d[j], theta + i * D, D);
        const double w = X.weight ? X.weight[t] : 1.0;
        if (w == 0.0) continue;  // contributes nothing, even where its terms are not finite
        ObsDerivs o;
        family_eval<FAMILY, false, false>(response_at<FAMILY>(X, t), eta, pc[j], o);
        ll += w * o.l;
    }
    return ll;
}

template <int FAMILY, int DT>
double loglik_impl(const DataView& X, const double* theta, const ItemParams& P, int n_threads) {
    const int D = DT > 0 ? DT : P.D;
    const std::vector<PhiConst> pc = phi_consts<FAMILY>(P.log_phi, X.n_items, n_threads);
    const Chunking ch = make_chunks(X.n);
    std::vector<double> part(static_cast<size_t>(ch.n_chunks), 0.0);
#pragma omp parallel for schedule(static, 1) num_threads(n_threads)
    for (int64_t c = 0; c < ch.n_chunks; ++c) {
        part[c] = loglik_chunk<FAMILY, DT>(X, theta, P, pc.data(), D, c * ch.len,
                                           std::min(X.n, (c + 1) * ch.len));
    }
    double total = 0.0;
    for (double v : part) total += v;
    return total;
}

// ----------------------------------------------------------------------------------------------
// accumulate
// ----------------------------------------------------------------------------------------------

// Rows touched by a chunk (so only those are flushed) and its log-likelihood.
struct ChunkResult {
    double ll = 0.0;
    int64_t mlo = INT64_MAX, mhi = -1, ilo = INT64_MAX, ihi = -1;
};

// The work of one chunk [t0, t1) of accumulate: private buffers bg/bh (models), ig/ih (items) and
// the caller's cross array; a null buffer means "not requested". Kept out of the OpenMP region so
// that IRSL_HOT can give it a second, FMA/AVX2 build selected at run time.
template <int FAMILY, bool EXPECTED, int DT>
IRSL_HOT ChunkResult accumulate_chunk(const DataView& X, const double* theta, const ItemParams& P,
                                      const PhiConst* pc, int64_t t0, int64_t t1, double* bg,
                                      double* bh, double* ig, double* ih, double* crs) {
    const int D = DT > 0 ? DT : P.D;
    const int P2 = D + 2;
    const int64_t wmg = D, wmh = D * D, wig = P2, wih = P2 * P2;
    ChunkResult r;
    for (int64_t t = t0; t < t1; ++t) {
        const int64_t i = X.model[t], j = X.item[t];
        const double w = X.weight ? X.weight[t] : 1.0;
        if (w == 0.0) {
            // contributes nothing (as in accumulate_items_weighted), even where its terms are not
            // finite; its cross block is zero
            if (crs) std::fill(crs + t * D * P2, crs + (t + 1) * D * P2, 0.0);
            continue;
        }
        const double* th = theta + i * D;
        const double* aj = P.a + j * D;
        const double eta = linear_predictor<DT>(aj, P.d[j], th, D);
        ObsDerivs o;
        family_eval<FAMILY, true, EXPECTED>(response_at<FAMILY>(X, t), eta, pc[j], o);
        r.ll += w * o.l;
        const double le = w * o.le, ls = w * o.ls;
        const double lee = w * o.lee, les = w * o.les, lss = w * o.lss;
        if (bg) {
            r.mlo = std::min(r.mlo, i);
            r.mhi = std::max(r.mhi, i);
            double* g = bg + i * wmg;
            double* h = bh + i * wmh;
            for (int k = 0; k < D; ++k) {
                g[k] += le * aj[k];
                const double la = lee * aj[k];
                for (int l = k; l < D; ++l) h[k * D + l] += la * aj[l];
            }
        }
        if (ig) {
            r.ilo = std::min(r.ilo, j);
            r.ihi = std::max(r.ihi, j);
            add_item_block<DT>(ig + j * wig, ih + j * wih, th, D, le, ls, lee, les, lss);
        }
        if (crs) {
            // d2l / dtheta_k d(a_l, d, s):  lee a_k theta_l + le [k == l],  lee a_k,  les a_k,
            // always with the observed lee, les (documented; the expected ones would not be the
            // expectation of this block, whose score term le [k == l] stays)
            const double clee = EXPECTED ? w * o.lee_obs : lee;
            const double cles = EXPECTED ? w * o.les_obs : les;
            double* cr = crs + t * D * P2;
            for (int k = 0; k < D; ++k) {
                const double la = clee * aj[k];
                for (int l = 0; l < D; ++l) cr[k * P2 + l] = la * th[l];
                cr[k * P2 + k] += le;
                cr[k * P2 + D] = la;
                cr[k * P2 + D + 1] = cles * aj[k];
            }
        }
    }
    return r;
}

template <int FAMILY, bool EXPECTED, int DT>
void accumulate_impl(const DataView& X, const double* theta, const ItemParams& P,
                     const AccumRequest& req, AccumOutput& out, int n_threads) {
    const int D = DT > 0 ? DT : P.D;
    const int P2 = D + 2;
    const int64_t M = X.n_models, N = X.n_items;
    const int64_t wmg = D, wmh = D * D, wig = P2, wih = P2 * P2;  // row widths
    double* const gth = req.model_blocks ? out.grad_theta : nullptr;
    double* const hth = req.model_blocks ? out.hess_theta : nullptr;
    double* const git = req.item_blocks ? out.grad_item : nullptr;
    double* const hit = req.item_blocks ? out.hess_item : nullptr;
    double* const crs = req.cross ? out.cross : nullptr;
    if (gth) std::fill(gth, gth + M * wmg, 0.0);
    if (hth) std::fill(hth, hth + M * wmh, 0.0);
    if (git) std::fill(git, git + N * wig, 0.0);
    if (hit) std::fill(hit, hit + N * wih, 0.0);

    const std::vector<PhiConst> pc = phi_consts<FAMILY>(P.log_phi, N, n_threads);
    const Chunking ch = make_chunks(X.n);
    double total = 0.0;

    // Each chunk is accumulated from zero into a private slot and added to the outputs in chunk
    // order (ordered_chunk_reduce): the sums are those of a serial pass, for any thread count.
    // Only the rows a chunk touched are flushed (and zeroed again).
    struct Slot {
        std::vector<double> bg, bh, ig, ih;
        ChunkResult r;
    };
    ordered_chunk_reduce(
        ch.n_chunks, n_threads,
        [&] {
            Slot sl;
            sl.bg.assign(gth ? M * wmg : 0, 0.0);
            sl.bh.assign(hth ? M * wmh : 0, 0.0);
            sl.ig.assign(git ? N * wig : 0, 0.0);
            sl.ih.assign(hit ? N * wih : 0, 0.0);
            return sl;
        },
        [&](Slot& sl, int64_t c) {
            sl.r = accumulate_chunk<FAMILY, EXPECTED, DT>(
                X, theta, P, pc.data(), c * ch.len, std::min(X.n, (c + 1) * ch.len),
                gth ? sl.bg.data() : nullptr, gth ? sl.bh.data() : nullptr,
                git ? sl.ig.data() : nullptr, git ? sl.ih.data() : nullptr, crs);
        },
        [&](Slot& sl, int64_t) {
            total += sl.r.ll;
            flush_rows(gth, sl.bg.data(), sl.r.mlo, sl.r.mhi, wmg);
            flush_rows(hth, sl.bh.data(), sl.r.mlo, sl.r.mhi, wmh);
            flush_rows(git, sl.ig.data(), sl.r.ilo, sl.r.ihi, wig);
            flush_rows(hit, sl.ih.data(), sl.r.ilo, sl.r.ihi, wih);
        });
    mirror_blocks(hth, M, D);
    mirror_blocks(hit, N, P2);
    out.loglik = total;
}

// ----------------------------------------------------------------------------------------------
// obs_derivatives, log_const
// ----------------------------------------------------------------------------------------------

template <int FAMILY, bool EXPECTED>
void obs_derivatives_impl(const DataView& X, const double* eta, const double* log_phi_obs,
                          double* const out6[6], int n_threads) {
#pragma omp parallel for schedule(static) num_threads(n_threads)
    for (int64_t t = 0; t < X.n; ++t) {
        const PhiConst pc = make_phi_const<FAMILY>(log_phi_obs[t]);
        ObsDerivs o;
        family_eval<FAMILY, true, EXPECTED>(response_at<FAMILY>(X, t), eta[t], pc, o);
        out6[0][t] = o.l;
        out6[1][t] = o.le;
        out6[2][t] = o.ls;
        out6[3][t] = o.lee;
        out6[4][t] = o.les;
        out6[5][t] = o.lss;
    }
}

// ----------------------------------------------------------------------------------------------
// Per-model passes (need model_ptr): quadrature grid and EM item accumulation
// ----------------------------------------------------------------------------------------------

template <int FAMILY, int DT>
void loglik_grid_impl(const DataView& X, const ItemParams& P, const double* nodes, int64_t Q,
                      double* out, int n_threads) {
    const int D = DT > 0 ? DT : P.D;
    const std::vector<PhiConst> pc = phi_consts<FAMILY>(P.log_phi, X.n_items, n_threads);
    // Each out[i, :] is summed by one thread in observation order: deterministic.
#pragma omp parallel for schedule(dynamic, 8) num_threads(n_threads)
    for (int64_t i = 0; i < X.n_models; ++i) {
        double* row = out + i * Q;
        std::fill(row, row + Q, 0.0);
        const double* nd = nodes + i * Q * D;
        for (int64_t t = X.model_ptr[i]; t < X.model_ptr[i + 1]; ++t) {
            const int64_t j = X.item[t];
            const double w = X.weight ? X.weight[t] : 1.0;
            if (w == 0.0) continue;  // contributes nothing
            const Response resp = response_at<FAMILY>(X, t);
            for (int64_t q = 0; q < Q; ++q) {
                const double eta = linear_predictor<DT>(P.a + j * D, P.d[j], nd + q * D, D);
                ObsDerivs o;
                family_eval<FAMILY, false, false>(resp, eta, pc[j], o);
                row[q] += w * o.l;
            }
        }
    }
}

// Items touched by a chunk of accumulate_items_weighted (so only those are flushed) and its value.
struct ItemsChunkResult {
    double val = 0.0;
    int64_t ilo = INT64_MAX, ihi = -1;
};

// The work of the models [i0, i1) of accumulate_items_weighted into the private item blocks ig, ih.
// Kept out of the OpenMP region (as accumulate_chunk is): inlined there, next to the scheduler,
// its loop ran about 8% slower (bernoulli, D = 3, one thread).
template <int FAMILY, bool EXPECTED, int DT>
IRSL_NOINLINE ItemsChunkResult items_weighted_chunk(const DataView& X, const ItemParams& P, const PhiConst* pc,
                                      const double* nodes, const double* node_weights, int64_t Q,
                                      int64_t i0, int64_t i1, double* ig, double* ih) {
    const int D = DT > 0 ? DT : P.D;
    const int P2 = D + 2;
    const int64_t wig = P2, wih = P2 * P2;
    double val = 0.0;
    int64_t ilo = INT64_MAX, ihi = -1;
    for (int64_t i = i0; i < i1; ++i) {
        for (int64_t t = X.model_ptr[i]; t < X.model_ptr[i + 1]; ++t) {
            const int64_t j = X.item[t];
            ilo = std::min(ilo, j);
            ihi = std::max(ihi, j);
            const double w = X.weight ? X.weight[t] : 1.0;
            const Response resp = response_at<FAMILY>(X, t);
            const double* aj = P.a + j * D;
            for (int64_t q = 0; q < Q; ++q) {
                const double wq = w * node_weights[i * Q + q];
                if (wq == 0.0) continue;
                const double* th = nodes + (i * Q + q) * D;
                const double eta = linear_predictor<DT>(aj, P.d[j], th, D);
                ObsDerivs o;
                family_eval<FAMILY, true, EXPECTED>(resp, eta, pc[j], o);
                val += wq * o.l;
                add_item_block<DT>(ig + j * wig, ih + j * wih, th, D, wq * o.le, wq * o.ls,
                                   wq * o.lee, wq * o.les, wq * o.lss);
            }
        }
    }
    return {val, ilo, ihi};
}

template <int FAMILY, bool EXPECTED, int DT>
double items_weighted_impl(const DataView& X, const ItemParams& P, const double* nodes,
                           const double* node_weights, int64_t Q, double* git, double* hit,
                           int n_threads) {
    const int D = DT > 0 ? DT : P.D;
    const int P2 = D + 2;
    const int64_t N = X.n_items, M = X.n_models;
    const int64_t wig = P2, wih = P2 * P2;
    std::fill(git, git + N * wig, 0.0);
    std::fill(hit, hit + N * wih, 0.0);
    const std::vector<PhiConst> pc = phi_consts<FAMILY>(P.log_phi, N, n_threads);

    // Chunks of whole models, cut where the observation count of a chunk reaches the chunk
    // length of make_chunks(n): a function of the data only, never of the thread count.
    const Chunking ch = make_chunks(X.n);
    std::vector<int64_t> bounds{0};
    for (int64_t i = 0; i < M; ++i)
        if (X.model_ptr[i + 1] - X.model_ptr[bounds.back()] >= ch.len) bounds.push_back(i + 1);
    if (bounds.back() != M) bounds.push_back(M);
    const int64_t n_chunks = static_cast<int64_t>(bounds.size()) - 1;
    double total = 0.0;

    // as in accumulate: each chunk from zero in a private slot, flushed in chunk order
    struct Slot {
        std::vector<double> ig, ih;
        ItemsChunkResult r;
    };
    ordered_chunk_reduce(
        n_chunks, n_threads,
        [&] {
            Slot sl;
            sl.ig.assign(N * wig, 0.0);
            sl.ih.assign(N * wih, 0.0);
            return sl;
        },
        [&](Slot& sl, int64_t c) {
            sl.r = items_weighted_chunk<FAMILY, EXPECTED, DT>(X, P, pc.data(), nodes, node_weights,
                                                              Q, bounds[c], bounds[c + 1],
                                                              sl.ig.data(), sl.ih.data());
        },
        [&](Slot& sl, int64_t) {
            total += sl.r.val;
            flush_rows(git, sl.ig.data(), sl.r.ilo, sl.r.ihi, wig);
            flush_rows(hit, sl.ih.data(), sl.r.ilo, sl.r.ihi, wih);
        });
    mirror_blocks(hit, N, P2);
    return total;
}

}  // namespace

// ----------------------------------------------------------------------------------------------
// Public entry points: dispatch on family, information and dimension
// ----------------------------------------------------------------------------------------------

// Threads actually started for `work` observation evaluations: small passes run on fewer
// threads, because starting a team (and, on a busy machine, idle threads spinning at its barrier)
// costs more than the work. Results do not change: the chunking depends only on n.
constexpr int64_t MIN_WORK_PER_THREAD = 1 << 15;

static int effective_threads(int n_threads, int64_t work) {
    const int64_t cap = std::max<int64_t>(1, work / MIN_WORK_PER_THREAD);
    return static_cast<int>(std::min<int64_t>(n_threads, cap));
}

double loglik(const DataView& X, const double* theta, const ItemParams& P, int n_threads) {
    double res = 0.0;
    dispatch_family(X.family, false, [&](auto fam, auto) {
        dispatch_dim(P.D, [&](auto dt) {
            res = loglik_impl<decltype(fam)::value, decltype(dt)::value>(
                X, theta, P, effective_threads(n_threads, X.n));
        });
    });
    return res;
}

void accumulate(const DataView& X, const double* theta, const ItemParams& P,
                const AccumRequest& req, AccumOutput& out, int n_threads) {
    dispatch_family(X.family, req.expected, [&](auto fam, auto exp) {
        dispatch_dim(P.D, [&](auto dt) {
            accumulate_impl<decltype(fam)::value, decltype(exp)::value, decltype(dt)::value>(
                X, theta, P, req, out, effective_threads(n_threads, X.n));
        });
    });
}

void obs_derivatives(const DataView& X, const double* eta, const double* log_phi_obs,
                     bool expected, double* const out6[6], int n_threads) {
    dispatch_family(X.family, expected, [&](auto fam, auto exp) {
        obs_derivatives_impl<decltype(fam)::value, decltype(exp)::value>(
            X, eta, log_phi_obs, out6, effective_threads(n_threads, X.n));
    });
}

void loglik_grid(const DataView& X, const ItemParams& P, const double* nodes, int64_t Q,
                 double* out, int n_threads) {
    dispatch_family(X.family, false, [&](auto fam, auto) {
        dispatch_dim(P.D, [&](auto dt) {
            loglik_grid_impl<decltype(fam)::value, decltype(dt)::value>(
                X, P, nodes, Q, out, effective_threads(n_threads, X.n * Q));
        });
    });
}

double accumulate_items_weighted(const DataView& X, const ItemParams& P, const double* nodes,
                                 const double* node_weights, int64_t Q, bool expected,
                                 double* grad_item, double* hess_item, int n_threads) {
    double res = 0.0;
    dispatch_family(X.family, expected, [&](auto fam, auto exp) {
        dispatch_dim(P.D, [&](auto dt) {
            res = items_weighted_impl<decltype(fam)::value, decltype(exp)::value,
                                      decltype(dt)::value>(X, P, nodes, node_weights, Q,
                                                           grad_item, hess_item,
                                                           effective_threads(n_threads, X.n * Q));
        });
    });
    return res;
}

void compute_log_const(const DataView& X, double* out, int n_threads) {
    const bool counts = X.family == BINOMIAL || X.family == BETA_BINOMIAL;
#pragma omp parallel for schedule(static) num_threads(n_threads)
    for (int64_t t = 0; t < X.n; ++t) out[t] = counts ? log_binom_coef(X.trials[t], X.y[t]) : 0.0;
}

}  // namespace irsl
