// validate.hpp -- parallel scans used by the bindings to check observation arrays.
//
// Pure C++. first_bad(n, bad) returns the smallest index t with bad(t) true, or n when there is
// none; the answer does not depend on the thread count (it is a min-reduction).
#pragma once

#include <cmath>
#include <cstdint>

namespace irsl {

template <class Bad>
int64_t first_bad(int64_t n, const Bad& bad, int n_threads) {
    int64_t first = n;
#pragma omp parallel for schedule(static) reduction(min : first) num_threads(n_threads)
    for (int64_t t = 0; t < n; ++t)
        if (bad(t) && t < first) first = t;
    return first;
}

inline bool is_integer(double v) { return std::isfinite(v) && v == std::floor(v); }

}  // namespace irsl
