// bindings.cpp -- pybind11 module `irsl_stats._core` (the only file with Python headers).
//
// Every binding takes generic Python objects and checks them before any observation is touched:
// exact dtype (float64 / int32 / int64), ndim, shape consistency, C-contiguity and alignment,
// index ranges, model_ptr consistency, finiteness of parameters and that responses lie in the
// family's support. Violations raise TypeError (not an array / wrong dtype) or ValueError (the
// rest); the message names the argument and, for element errors, the first offending index.
// The GIL is released around the numerical work. Wrapped by irsl_stats/_kernel.py.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "families.hpp"
#include "kernel.hpp"
#include "validate.hpp"

namespace py = pybind11;
using irsl::first_bad;

namespace {

#ifndef IRSL_COMPILER_ID
#define IRSL_COMPILER_ID "unknown"
#endif
#ifndef IRSL_COMPILER_VERSION
#define IRSL_COMPILER_VERSION ""
#endif
#ifndef IRSL_BUILD_TYPE
#define IRSL_BUILD_TYPE "unknown"
#endif

constexpr int NPY_ALIGNED_FLAG = 0x0100;  // NPY_ARRAY_ALIGNED

const char* family_name(int family) {
    static const char* names[] = {"beta", "bernoulli", "binomial", "beta_binomial"};
    return (family >= 0 && family <= 3) ? names[family] : "?";
}

std::string fmt(double v) {
    std::ostringstream s;
    s.precision(17);
    s << v;
    return s.str();
}

std::string type_name(const py::handle& obj) {
    return py::str(py::type::handle_of(obj).attr("__name__")).cast<std::string>();
}

template <typename T>
const char* dtype_name() {
    if (std::is_same<T, double>::value) return "float64";
    if (std::is_same<T, int32_t>::value) return "int32";
    return "int64";
}

// Checks that `obj` is a C-contiguous, aligned numpy array of exactly dtype T and `ndim` dims.
template <typename T>
py::array get_array(const py::object& obj, const char* name, int ndim) {
    const std::string want = std::string("a C-contiguous ") + dtype_name<T>() + " array with " +
                             std::to_string(ndim) + " dimension(s)";
    if (!py::isinstance<py::array>(obj))
        throw py::type_error(std::string(name) + ": expected " + want + ", got " + type_name(obj));
    py::array arr = py::reinterpret_borrow<py::array>(obj);
    if (!arr.dtype().equal(py::dtype::of<T>()))
        throw py::type_error(std::string(name) + ": expected " + want + ", got dtype " +
                             py::str(arr.dtype()).cast<std::string>());
    if (arr.ndim() != ndim)
        throw py::value_error(std::string(name) + ": expected " + want + ", got ndim " +
                              std::to_string(arr.ndim()));
    if (!(arr.flags() & py::array::c_style) || !(arr.flags() & NPY_ALIGNED_FLAG))
        throw py::value_error(std::string(name) + ": expected " + want +
                              ", got a non-contiguous or unaligned array");
    return arr;
}

std::string shape_str(const py::array& arr) {
    std::string s = "(";
    for (py::ssize_t k = 0; k < arr.ndim(); ++k) {
        if (k) s += ", ";
        s += std::to_string(arr.shape(k));
    }
    return s + (arr.ndim() == 1 ? ",)" : ")");
}

// shape: expected extents, -1 = any.
void check_shape(const py::array& arr, const char* name, std::vector<int64_t> shape,
                 const std::string& meaning) {
    for (size_t k = 0; k < shape.size(); ++k) {
        if (shape[k] >= 0 && arr.shape(static_cast<py::ssize_t>(k)) != shape[k])
            throw py::value_error(std::string(name) + ": expected shape " + meaning + ", got " +
                                  shape_str(arr));
    }
}

const double* dptr(const py::array& a) { return static_cast<const double*>(a.data()); }

// Largest |log phi| accepted: phi = exp(log_phi) and lgamma(phi) stay finite (e^700 ~ 1e304).
constexpr double LOG_PHI_MAX = 700.0;

void check_finite(const py::array& arr, const char* name, int n_threads) {
    const double* p = dptr(arr);
    const int64_t n = arr.size();
    const int64_t t = first_bad(n, [p](int64_t k) { return !std::isfinite(p[k]); }, n_threads);
    if (t < n)
        throw py::value_error(std::string(name) + " must be finite; flat element " +
                              std::to_string(t) + " is " + fmt(p[t]));
}

int64_t get_int(const py::object& obj, const char* name) {
    if (py::isinstance<py::bool_>(obj) || !PyIndex_Check(obj.ptr()))
        throw py::type_error(std::string(name) + ": expected an integer, got " + type_name(obj));
    PyObject* idx = PyNumber_Index(obj.ptr());  // may fail, e.g. for arrays of size > 1
    if (idx == nullptr) {
        PyErr_Clear();
        throw py::type_error(std::string(name) + ": expected an integer, got " + type_name(obj));
    }
    py::object holder = py::reinterpret_steal<py::object>(idx);
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(idx, &overflow);
    if (overflow != 0 || (v == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        throw py::value_error(std::string(name) + ": integer out of range");
    }
    return static_cast<int64_t>(v);
}

int threads_from(const py::object& n_threads) {
    if (n_threads.is_none()) return irsl::resolve_n_threads(true, 0);
    try {
        return irsl::resolve_n_threads(false, get_int(n_threads, "n_threads"));
    } catch (const std::invalid_argument& e) {
        throw py::value_error(e.what());
    }
}

// ----------------------------------------------------------------------------------------------
// Observation data
// ----------------------------------------------------------------------------------------------

struct Data {
    irsl::DataView view;
    std::vector<py::array> keep;  // keeps the arrays alive while the GIL is released
};

int get_family(const py::object& family) {
    const int64_t f = get_int(family, "family");
    if (f < 0 || f > 3)
        throw py::value_error("family: expected a code 0 (beta), 1 (bernoulli), 2 (binomial) or "
                              "3 (beta_binomial), got " + std::to_string(f));
    return static_cast<int>(f);
}

// y / trials / log_const: the response part shared by every binding.
void parse_responses(Data& D, const py::object& y, const py::object& trials,
                     const py::object& log_const, int n_threads,
                     const py::object& log_y = py::none()) {
    irsl::DataView& X = D.view;
    const int fam = X.family;
    py::array ya = get_array<double>(y, "y", 1);
    X.n = ya.shape(0);
    X.y = dptr(ya);
    D.keep.push_back(ya);
    const int64_t n = X.n;
    const double* yv = X.y;
    const bool counts = fam == irsl::BINOMIAL || fam == irsl::BETA_BINOMIAL;
    if (counts) {
        if (trials.is_none())
            throw py::value_error(std::string("trials: required for family '") +
                                  family_name(fam) + "'");
        py::array ta = get_array<double>(trials, "trials", 1);
        check_shape(ta, "trials", {n}, "(n,) = (" + std::to_string(n) + ",) like y");
        const double* tv = dptr(ta);
        X.trials = tv;
        D.keep.push_back(ta);
        int64_t t = first_bad(n, [tv](int64_t k) { return !irsl::is_integer(tv[k]) || tv[k] < 1.0 ||
                                                            tv[k] > 9.0e15; }, n_threads);
        if (t < n)
            throw py::value_error("trials[" + std::to_string(t) + "] = " + fmt(tv[t]) +
                                  " is not a positive integer (family '" + family_name(fam) + "')");
        t = first_bad(n, [yv, tv](int64_t k) { return !irsl::is_integer(yv[k]) || yv[k] < 0.0 ||
                                                       yv[k] > tv[k]; }, n_threads);
        if (t < n)
            throw py::value_error("y[" + std::to_string(t) + "] = " + fmt(yv[t]) +
                                  " is outside the support {0, ..., trials[" + std::to_string(t) +
                                  "] = " + fmt(tv[t]) + "} of family '" + family_name(fam) + "'");
    } else {
        if (!trials.is_none())
            throw py::value_error(std::string("trials: must be None for family '") +
                                  family_name(fam) + "'");
        int64_t t;
        const char* support;
        if (fam == irsl::BETA) {
            t = first_bad(n, [yv](int64_t k) { return !(yv[k] > 0.0 && yv[k] < 1.0); }, n_threads);
            support = "(0, 1)";
        } else {
            t = first_bad(n, [yv](int64_t k) { return !(yv[k] == 0.0 || yv[k] == 1.0); }, n_threads);
            support = "{0, 1}";
        }
        if (t < n)
            throw py::value_error("y[" + std::to_string(t) + "] = " + fmt(yv[t]) +
                                  " is outside the support " + support + " of family '" +
                                  family_name(fam) + "'");
    }
    if (!log_const.is_none()) {
        py::array la = get_array<double>(log_const, "log_const", 1);
        check_shape(la, "log_const", {n}, "(n,) = (" + std::to_string(n) + ",) like y");
        check_finite(la, "log_const", n_threads);
        X.log_const = dptr(la);
        D.keep.push_back(la);
    }
    // log_y: optional precomputed (log y, log1p(-y)) per observation for the beta family; without
    // it the kernel computes them on the fly (same values, slower).
    if (!log_y.is_none()) {
        if (fam != irsl::BETA)
            throw py::value_error(std::string("log_y: only for family 'beta', got family '") +
                                  family_name(fam) + "'");
        py::array lya = get_array<double>(log_y, "log_y", 2);
        check_shape(lya, "log_y", {n, 2},
                    "(n, 2) = (" + std::to_string(n) + ", 2): log y and log1p(-y)");
        check_finite(lya, "log_y", n_threads);
        X.log_y = dptr(lya);
        D.keep.push_back(lya);
    }
}

void check_index(const py::array& arr, const char* name, int64_t bound, const char* bound_name,
                 int n_threads) {
    const int32_t* p = static_cast<const int32_t*>(arr.data());
    const int64_t n = arr.shape(0);
    const int64_t t = first_bad(n, [p, bound](int64_t k) { return p[k] < 0 || p[k] >= bound; },
                                n_threads);
    if (t < n)
        throw py::value_error(std::string(name) + "[" + std::to_string(t) + "] = " +
                              std::to_string(p[t]) + " is out of range [0, " + bound_name +
                              ") = [0, " + std::to_string(bound) + ")");
}

// Full observation set: indices, responses, weights, model_ptr.
Data parse_data(const py::object& model, const py::object& item, const py::object& y,
                const py::object& trials, const py::object& weight, const py::object& log_const,
                const py::object& log_y, const py::object& model_ptr, const py::object& n_models,
                const py::object& n_items, const py::object& family, bool need_ptr,
                int n_threads) {
    Data D;
    irsl::DataView& X = D.view;
    X.family = get_family(family);
    X.n_models = get_int(n_models, "n_models");
    X.n_items = get_int(n_items, "n_items");
    if (X.n_models < 0 || X.n_models > INT32_MAX)
        throw py::value_error("n_models: expected 0 <= n_models < 2**31, got " +
                              std::to_string(X.n_models));
    if (X.n_items < 0 || X.n_items > INT32_MAX)
        throw py::value_error("n_items: expected 0 <= n_items < 2**31, got " +
                              std::to_string(X.n_items));
    parse_responses(D, y, trials, log_const, n_threads, log_y);
    const int64_t n = X.n;
    const std::string nshape = "(n,) = (" + std::to_string(n) + ",) like y";
    py::array ma = get_array<int32_t>(model, "model", 1);
    check_shape(ma, "model", {n}, nshape);
    py::array ia = get_array<int32_t>(item, "item", 1);
    check_shape(ia, "item", {n}, nshape);
    check_index(ma, "model", X.n_models, "n_models", n_threads);
    check_index(ia, "item", X.n_items, "n_items", n_threads);
    X.model = static_cast<const int32_t*>(ma.data());
    X.item = static_cast<const int32_t*>(ia.data());
    D.keep.push_back(ma);
    D.keep.push_back(ia);
    if (!weight.is_none()) {
        py::array wa = get_array<double>(weight, "weight", 1);
        check_shape(wa, "weight", {n}, nshape);
        const double* wv = dptr(wa);
        const int64_t t = first_bad(n, [wv](int64_t k) { return !(std::isfinite(wv[k]) && wv[k] >= 0.0); },
                                    n_threads);
        if (t < n)
            throw py::value_error("weight[" + std::to_string(t) + "] = " + fmt(wv[t]) +
                                  " must be finite and >= 0");
        X.weight = wv;
        D.keep.push_back(wa);
    }
    if (model_ptr.is_none()) {
        if (need_ptr)
            throw py::value_error("model_ptr: required (observations sorted by model with CSR "
                                  "offsets model_ptr[M+1])");
        return D;
    }
    py::array pa = get_array<int64_t>(model_ptr, "model_ptr", 1);
    const int64_t M = X.n_models;
    check_shape(pa, "model_ptr", {M + 1}, "(n_models + 1,) = (" + std::to_string(M + 1) + ",)");
    const int64_t* pp = static_cast<const int64_t*>(pa.data());
    if (pp[0] != 0)
        throw py::value_error("model_ptr[0] = " + std::to_string(pp[0]) + " must be 0");
    if (pp[M] != n)
        throw py::value_error("model_ptr[" + std::to_string(M) + "] = " + std::to_string(pp[M]) +
                              " must equal the number of observations n = " + std::to_string(n));
    for (int64_t i = 0; i < M; ++i)
        if (pp[i + 1] < pp[i])
            throw py::value_error("model_ptr must be non-decreasing: model_ptr[" +
                                  std::to_string(i + 1) + "] = " + std::to_string(pp[i + 1]) +
                                  " < model_ptr[" + std::to_string(i) + "] = " +
                                  std::to_string(pp[i]));
    const int32_t* mv = X.model;
    for (int64_t i = 0; i < M; ++i)
        for (int64_t t = pp[i]; t < pp[i + 1]; ++t)
            if (mv[t] != i)
                throw py::value_error("model[" + std::to_string(t) + "] = " +
                                      std::to_string(mv[t]) + " is inconsistent with model_ptr "
                                      "(observation " + std::to_string(t) + " lies in the range "
                                      "of model " + std::to_string(i) + ")");
    X.model_ptr = pp;
    D.keep.push_back(pa);
    return D;
}

struct Items {
    irsl::ItemParams P;
    std::vector<py::array> keep;
};

// For the families with a precision: |log_phi| <= LOG_PHI_MAX (after check_finite).
void check_log_phi(const py::array& arr, const char* name, int family, int n_threads) {
    if (family != irsl::BETA && family != irsl::BETA_BINOMIAL) return;
    const double* p = dptr(arr);
    const int64_t n = arr.size();
    const int64_t t = first_bad(n, [p](int64_t k) { return !(std::fabs(p[k]) <= LOG_PHI_MAX); },
                                n_threads);
    if (t < n)
        throw py::value_error(std::string(name) + " must lie in [-700, 700] (phi = exp(" + name +
                              ") finite and positive); element " + std::to_string(t) + " is " +
                              fmt(p[t]));
}

Items parse_items(const py::object& a, const py::object& d, const py::object& log_phi,
                  int64_t N, int family, int n_threads) {
    Items it;
    py::array aa = get_array<double>(a, "a", 2);
    check_shape(aa, "a", {N, -1}, "(n_items, D) with n_items = " + std::to_string(N));
    const int64_t D = aa.shape(1);
    if (D < 1 || D > irsl::MAX_DIM)
        throw py::value_error("a: the latent dimension D = a.shape[1] must be in [1, " +
                              std::to_string(irsl::MAX_DIM) + "], got " + std::to_string(D));
    py::array da = get_array<double>(d, "d", 1);
    check_shape(da, "d", {N}, "(n_items,) = (" + std::to_string(N) + ",)");
    py::array pa = get_array<double>(log_phi, "log_phi", 1);
    check_shape(pa, "log_phi", {N}, "(n_items,) = (" + std::to_string(N) + ",)");
    check_finite(aa, "a", n_threads);
    check_finite(da, "d", n_threads);
    check_finite(pa, "log_phi", n_threads);
    check_log_phi(pa, "log_phi", family, n_threads);
    it.P.D = static_cast<int>(D);
    it.P.a = dptr(aa);
    it.P.d = dptr(da);
    it.P.log_phi = dptr(pa);
    it.keep = {aa, da, pa};
    return it;
}

bool get_expected(bool expected, int family) {
    if (expected && family == irsl::BETA_BINOMIAL)
        throw py::value_error("information: 'expected' is not available for family "
                              "'beta_binomial' (use 'observed')");
    return expected && family == irsl::BETA;  // bernoulli/binomial: expected == observed
}

py::array_t<double> new_array(std::vector<py::ssize_t> shape) { return py::array_t<double>(shape); }
double* mptr(py::array_t<double>& a) { return a.mutable_data(); }

// Data arguments shared by the bindings, in this order.
#define IRSL_DATA_ARGS                                                                            \
    py::arg("model"), py::arg("item"), py::arg("y"), py::arg("trials"), py::arg("weight"),       \
        py::arg("log_const"), py::arg("log_y"), py::arg("model_ptr"), py::arg("n_models"),       \
        py::arg("n_items"), py::arg("family")
#define IRSL_DATA_PARAMS                                                                          \
    const py::object &model, const py::object &item, const py::object &y,                        \
        const py::object &trials, const py::object &weight, const py::object &log_const,         \
        const py::object &log_y, const py::object &model_ptr, const py::object &n_models,        \
        const py::object &n_items, const py::object &family
#define IRSL_DATA_FORWARD                                                                         \
    model, item, y, trials, weight, log_const, log_y, model_ptr, n_models, n_items, family

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "C++/OpenMP likelihood kernel of irsl_stats (private; use irsl_stats._kernel).";

    m.def("build_info", []() {
        py::dict info;
#ifdef _OPENMP
        info["openmp"] = true;
        info["openmp_version"] = static_cast<int>(_OPENMP);
        info["max_threads"] = omp_get_max_threads();
        info["num_procs"] = omp_get_num_procs();
#else
        info["openmp"] = false;
        info["openmp_version"] = py::none();
        info["max_threads"] = 1;
        info["num_procs"] = 1;
#endif
        info["compiler"] = std::string(IRSL_COMPILER_ID) + " " + IRSL_COMPILER_VERSION;
        info["build_type"] = std::string(IRSL_BUILD_TYPE);
        return info;
    });

    m.def("special",
          [](const std::string& name, const py::object& x) {
              py::array xa = get_array<double>(x, "x", 1);
              const int64_t n = xa.size();
              const double* xv = dptr(xa);
              const int64_t t = first_bad(n, [xv](int64_t k) { return !(std::isfinite(xv[k]) && xv[k] > 0.0); }, 1);
              if (t < n)
                  throw py::value_error("x[" + std::to_string(t) + "] = " + fmt(xv[t]) +
                                        " must be finite and > 0");
              int which;
              if (name == "lgamma") which = 0;
              else if (name == "digamma") which = 1;
              else if (name == "trigamma") which = 2;
              else if (name == "log1pexp") which = 3;
              else if (name == "lgamma_fused") which = 4;
              else if (name == "digamma_fused") which = 5;
              else if (name == "trigamma_fused") which = 6;
              else throw py::value_error("name: expected 'lgamma', 'digamma', 'trigamma', "
                                         "'log1pexp' or '<lgamma|digamma|trigamma>_fused', got '" +
                                         name + "'");
              auto out = new_array({static_cast<py::ssize_t>(n)});
              double* o = mptr(out);
              for (int64_t k = 0; k < n; ++k) {
                  switch (which) {
                      case 0: o[k] = irsl::special::lgamma(xv[k]); break;
                      case 1: o[k] = irsl::special::digamma(xv[k]); break;
                      case 2: o[k] = irsl::special::trigamma(xv[k]); break;
                      case 3: o[k] = irsl::special::log1pexp(xv[k]); break;
                      default: {
                          // the fused evaluation used by the families (shared recurrence)
                          const auto g = irsl::special::lgamma_derivs<true>(xv[k]);
                          o[k] = which == 4 ? g.lg : (which == 5 ? g.dg : g.tg);
                      }
                  }
              }
              return out;
          },
          py::arg("name"), py::arg("x"),
          "Evaluate a special function of cpp/special.hpp on x > 0 (for tests).");

    m.def("resolve_n_threads", [](const py::object& n_threads) { return threads_from(n_threads); },
          py::arg("n_threads"));

    m.def("validate_data",
          [](IRSL_DATA_PARAMS, const py::object& n_threads) {
              const int nt = threads_from(n_threads);
              parse_data(IRSL_DATA_FORWARD, false, nt);
          },
          IRSL_DATA_ARGS, py::arg("n_threads"));

    m.def("log_const",
          [](const py::object& y, const py::object& trials, const py::object& family,
             const py::object& n_threads) {
              const int nt = threads_from(n_threads);
              Data D;
              D.view.family = get_family(family);
              parse_responses(D, y, trials, py::none(), nt);
              auto out = new_array({static_cast<py::ssize_t>(D.view.n)});
              double* o = mptr(out);
              {
                  py::gil_scoped_release release;
                  irsl::compute_log_const(D.view, o, nt);
              }
              return out;
          },
          py::arg("y"), py::arg("trials"), py::arg("family"), py::arg("n_threads"));

    m.def("loglik",
          [](IRSL_DATA_PARAMS, const py::object& theta, const py::object& a, const py::object& d,
             const py::object& log_phi, const py::object& n_threads) {
              const int nt = threads_from(n_threads);
              Data D = parse_data(IRSL_DATA_FORWARD, false, nt);
              Items it = parse_items(a, d, log_phi, D.view.n_items, D.view.family, nt);
              py::array th = get_array<double>(theta, "theta", 2);
              check_shape(th, "theta", {D.view.n_models, it.P.D},
                          "(n_models, D) = (" + std::to_string(D.view.n_models) + ", " +
                              std::to_string(it.P.D) + ")");
              check_finite(th, "theta", nt);
              py::gil_scoped_release release;
              return irsl::loglik(D.view, dptr(th), it.P, nt);
          },
          IRSL_DATA_ARGS, py::arg("theta"), py::arg("a"), py::arg("d"), py::arg("log_phi"),
          py::arg("n_threads"));

    m.def("accumulate",
          [](IRSL_DATA_PARAMS, const py::object& theta, const py::object& a, const py::object& d,
             const py::object& log_phi, bool model_blocks, bool item_blocks, bool cross,
             bool expected, const py::object& n_threads) {
              const int nt = threads_from(n_threads);
              Data D = parse_data(IRSL_DATA_FORWARD, false, nt);
              Items it = parse_items(a, d, log_phi, D.view.n_items, D.view.family, nt);
              const int64_t Dm = it.P.D, M = D.view.n_models, N = D.view.n_items;
              py::array th = get_array<double>(theta, "theta", 2);
              check_shape(th, "theta", {M, Dm},
                          "(n_models, D) = (" + std::to_string(M) + ", " + std::to_string(Dm) + ")");
              check_finite(th, "theta", nt);
              irsl::AccumRequest req;
              req.model_blocks = model_blocks;
              req.item_blocks = item_blocks;
              req.cross = cross;
              req.expected = get_expected(expected, D.view.family);
              py::object gth = py::none(), hth = py::none(), git = py::none(), hit = py::none(),
                         crs = py::none();
              irsl::AccumOutput out;
              if (model_blocks) {
                  auto g = new_array({M, Dm});
                  auto h = new_array({M, Dm, Dm});
                  out.grad_theta = mptr(g);
                  out.hess_theta = mptr(h);
                  gth = g;
                  hth = h;
              }
              if (item_blocks) {
                  auto g = new_array({N, Dm + 2});
                  auto h = new_array({N, Dm + 2, Dm + 2});
                  out.grad_item = mptr(g);
                  out.hess_item = mptr(h);
                  git = g;
                  hit = h;
              }
              if (cross) {
                  auto c = new_array({D.view.n, Dm, Dm + 2});
                  out.cross = mptr(c);
                  crs = c;
              }
              {
                  py::gil_scoped_release release;
                  irsl::accumulate(D.view, dptr(th), it.P, req, out, nt);
              }
              return py::make_tuple(out.loglik, gth, hth, git, hit, crs);
          },
          IRSL_DATA_ARGS, py::arg("theta"), py::arg("a"), py::arg("d"), py::arg("log_phi"),
          py::arg("model_blocks"), py::arg("item_blocks"), py::arg("cross"), py::arg("expected"),
          py::arg("n_threads"));

    m.def("obs_derivatives",
          [](const py::object& y, const py::object& trials, const py::object& log_const,
             const py::object& family, const py::object& eta, const py::object& log_phi_obs,
             bool expected, const py::object& n_threads) {
              const int nt = threads_from(n_threads);
              Data D;
              D.view.family = get_family(family);
              parse_responses(D, y, trials, log_const, nt);
              const int64_t n = D.view.n;
              const std::string nshape = "(n,) = (" + std::to_string(n) + ",) like y";
              py::array ea = get_array<double>(eta, "eta", 1);
              check_shape(ea, "eta", {n}, nshape);
              check_finite(ea, "eta", nt);
              py::array pa = get_array<double>(log_phi_obs, "log_phi_obs", 1);
              check_shape(pa, "log_phi_obs", {n}, nshape);
              check_finite(pa, "log_phi_obs", nt);
              check_log_phi(pa, "log_phi_obs", D.view.family, nt);
              const bool exp = get_expected(expected, D.view.family);
              std::vector<py::array_t<double>> outs;
              double* ptrs[6];
              for (int k = 0; k < 6; ++k) {
                  outs.push_back(new_array({static_cast<py::ssize_t>(n)}));
                  ptrs[k] = mptr(outs.back());
              }
              {
                  py::gil_scoped_release release;
                  irsl::obs_derivatives(D.view, dptr(ea), dptr(pa), exp, ptrs, nt);
              }
              return py::make_tuple(outs[0], outs[1], outs[2], outs[3], outs[4], outs[5]);
          },
          py::arg("y"), py::arg("trials"), py::arg("log_const"), py::arg("family"), py::arg("eta"),
          py::arg("log_phi_obs"), py::arg("expected"), py::arg("n_threads"));

    m.def("loglik_grid",
          [](IRSL_DATA_PARAMS, const py::object& a, const py::object& d, const py::object& log_phi,
             const py::object& nodes, const py::object& n_threads) {
              const int nt = threads_from(n_threads);
              Data D = parse_data(IRSL_DATA_FORWARD, true, nt);
              Items it = parse_items(a, d, log_phi, D.view.n_items, D.view.family, nt);
              const int64_t M = D.view.n_models, Dm = it.P.D;
              py::array na = get_array<double>(nodes, "nodes", 3);
              check_shape(na, "nodes", {M, -1, Dm},
                          "(n_models, Q, D) = (" + std::to_string(M) + ", Q, " +
                              std::to_string(Dm) + ")");
              check_finite(na, "nodes", nt);
              const int64_t Q = na.shape(1);
              auto out = new_array({M, Q});
              double* o = mptr(out);
              {
                  py::gil_scoped_release release;
                  irsl::loglik_grid(D.view, it.P, dptr(na), Q, o, nt);
              }
              return out;
          },
          IRSL_DATA_ARGS, py::arg("a"), py::arg("d"), py::arg("log_phi"), py::arg("nodes"),
          py::arg("n_threads"));

    m.def("accumulate_items_weighted",
          [](IRSL_DATA_PARAMS, const py::object& a, const py::object& d, const py::object& log_phi,
             const py::object& nodes, const py::object& node_weights, bool expected,
             const py::object& n_threads) {
              const int nt = threads_from(n_threads);
              Data D = parse_data(IRSL_DATA_FORWARD, true, nt);
              Items it = parse_items(a, d, log_phi, D.view.n_items, D.view.family, nt);
              const int64_t M = D.view.n_models, N = D.view.n_items, Dm = it.P.D;
              py::array na = get_array<double>(nodes, "nodes", 3);
              check_shape(na, "nodes", {M, -1, Dm},
                          "(n_models, Q, D) = (" + std::to_string(M) + ", Q, " +
                              std::to_string(Dm) + ")");
              check_finite(na, "nodes", nt);
              const int64_t Q = na.shape(1);
              py::array wa = get_array<double>(node_weights, "node_weights", 2);
              check_shape(wa, "node_weights", {M, Q},
                          "(n_models, Q) = (" + std::to_string(M) + ", " + std::to_string(Q) + ")");
              const double* wv = dptr(wa);
              const int64_t nw = wa.size();
              const int64_t t = first_bad(nw, [wv](int64_t k) { return !(std::isfinite(wv[k]) && wv[k] >= 0.0); }, nt);
              if (t < nw)
                  throw py::value_error("node_weights must be finite and >= 0; flat element " +
                                        std::to_string(t) + " is " + fmt(wv[t]));
              const bool exp = get_expected(expected, D.view.family);
              auto g = new_array({N, Dm + 2});
              auto h = new_array({N, Dm + 2, Dm + 2});
              double* gp = mptr(g);
              double* hp = mptr(h);
              double value;
              {
                  py::gil_scoped_release release;
                  value = irsl::accumulate_items_weighted(D.view, it.P, dptr(na), wv, Q, exp, gp,
                                                          hp, nt);
              }
              return py::make_tuple(value, g, h);
          },
          IRSL_DATA_ARGS, py::arg("a"), py::arg("d"), py::arg("log_phi"), py::arg("nodes"),
          py::arg("node_weights"), py::arg("expected"), py::arg("n_threads"));
}
