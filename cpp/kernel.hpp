// kernel.hpp -- accumulation passes of the IRSL log-likelihood over long-format observations.
//
// Pure C++ (no Python headers). The pybind11 layer (bindings.cpp) validates every array before
// calling these functions: the kernel itself assumes in-range indices, matching lengths, responses
// inside the family's support and finite parameters.
//
// Model (docs/kernel_interface.md): eta_t = a_j . theta_i + d_j for observation t = (i, j);
// per-question log precision s_j = log_phi[j]. All outputs are of the LOG-LIKELIHOOD (weighted by
// weight[t] when given), observed or expected second derivatives as requested (the cross blocks
// of accumulate are always observed). An observation with weight 0 is skipped by every pass.
//
// Determinism: observations are cut into chunks whose boundaries depend only on n (make_chunks);
// each chunk accumulates into private buffers, and the buffers are added to the outputs in chunk
// order (accumulate: a reorder buffer of chunk slots; the other passes: an OpenMP `ordered`
// section), so results are bitwise identical for any thread count.
#pragma once

#include <cstdint>
#include <stdexcept>

namespace irsl {

// IN: observation arrays (length n unless said otherwise). Optional pointers may be null.
struct DataView {
    int64_t n = 0;
    int64_t n_models = 0;
    int64_t n_items = 0;
    int family = 0;
    const int32_t* model = nullptr;      // [n], 0 <= model < n_models
    const int32_t* item = nullptr;       // [n], 0 <= item < n_items
    const double* y = nullptr;           // [n], response (successes k for counts)
    const double* trials = nullptr;      // [n], trials (count families only)
    const double* weight = nullptr;      // [n], optional (null = all ones)
    const double* log_const = nullptr;   // [n], optional log C(n,k) (null = 0)
    const double* log_y = nullptr;       // [n, 2], beta: (log y, log1p(-y)) (null = computed)
    const int64_t* model_ptr = nullptr;  // [n_models + 1], optional CSR offsets (sorted by model)
};

// IN: item parameters. a [n_items, D] row-major, d [n_items], log_phi [n_items].
struct ItemParams {
    int D = 1;
    const double* a = nullptr;
    const double* d = nullptr;
    const double* log_phi = nullptr;
};

struct AccumRequest {
    bool model_blocks = true;
    bool item_blocks = true;
    bool cross = false;
    bool expected = false;  // expected information (beta only)
};

// OUT: arrays allocated by the caller (null when not requested); the kernel overwrites them.
struct AccumOutput {
    double loglik = 0.0;
    double* grad_theta = nullptr;  // [n_models, D]
    double* hess_theta = nullptr;  // [n_models, D, D]
    double* grad_item = nullptr;   // [n_items, D+2]   columns (a_1..a_D, d, log_phi)
    double* hess_item = nullptr;   // [n_items, D+2, D+2]
    double* cross = nullptr;       // [n, D, D+2]
};

constexpr int MAX_DIM = 16;  // largest supported latent dimension D

// Number of OpenMP threads: is_none -> omp_get_max_threads(); -1 -> omp_get_num_procs();
// k >= 1 -> k. Throws std::invalid_argument for 0 or < -1.
int resolve_n_threads(bool is_none, long long n_threads);

// Fixed partition of [0, n) into chunks; depends only on n.
struct Chunking {
    int64_t n_chunks = 0;
    int64_t len = 1;
};
Chunking make_chunks(int64_t n);

// Weighted total log-likelihood  sum_t w_t l_t.
double loglik(const DataView& X, const double* theta, const ItemParams& P, int n_threads);

// Log-likelihood, gradients and Hessian blocks (see AccumOutput) in one pass.
void accumulate(const DataView& X, const double* theta, const ItemParams& P,
                const AccumRequest& req, AccumOutput& out, int n_threads);

// Unweighted per-observation (l, l_e, l_s, l_ee, l_es, l_ss) at given eta[n], log_phi_obs[n].
// out6[k] points to an array of length n for each of the six quantities.
void obs_derivatives(const DataView& X, const double* eta, const double* log_phi_obs,
                     bool expected, double* const out6[6], int n_threads);

// out[i, q] = sum_{t in model i} w_t l(y_t; a_j . nodes[i, q, :] + d_j). Needs X.model_ptr.
// nodes [n_models, Q, D], out [n_models, Q].
void loglik_grid(const DataView& X, const ItemParams& P, const double* nodes, int64_t Q,
                 double* out, int n_threads);

// value = sum_i sum_q node_weights[i,q] sum_{t in i} w_t l(y_t; a_j . nodes[i,q] + d_j) and its
// item gradient [n_items, D+2] and Hessian [n_items, D+2, D+2]. Needs X.model_ptr.
double accumulate_items_weighted(const DataView& X, const ItemParams& P, const double* nodes,
                                 const double* node_weights, int64_t Q, bool expected,
                                 double* grad_item, double* hess_item, int n_threads);

// out[t] = log C(trials[t], y[t]) for the count families, 0 otherwise.
void compute_log_const(const DataView& X, double* out, int n_threads);

}  // namespace irsl
