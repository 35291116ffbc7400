// The problem kinds shared by the CUDA-vs-host tests and the warp kernel's host emulation
// tests: the same seeded A and X for both, so their cases are comparable.
#pragma once

#include <algorithm>
#include <cstdint>

#include "test_util.hpp"

namespace nnmf::test {

enum class Kind { dense, sparse, rank_deficient, zero_columns };

inline const char* name(Kind k) {
  switch (k) {
    case Kind::dense:
      return "dense";
    case Kind::sparse:
      return "sparse";
    case Kind::rank_deficient:
      return "rank-deficient";
    case Kind::zero_columns:
      return "zero-columns";
  }
  return "?";
}

/// A (n x k) and X (n x m, dense storage; sparse-patterned for Kind::sparse).
template <class T>
struct Problem {
  Matrix<T> A, X;
  CscMatrix<T> Xs;  // Kind::sparse only
};

template <class T>
inline Problem<T> make_problem(Kind kind, index_t k, index_t m, std::uint64_t seed) {
  const index_t n = std::max<index_t>(2 * k + 10, 60);
  Problem<T> p;
  p.A = random_matrix<T>(n, k, seed);
  if (kind == Kind::sparse) {
    p.Xs = random_sparse<T>(n, m, 0.08, seed + 1);
    p.X = p.Xs.to_dense();
  } else {
    p.X = random_matrix<T>(n, m, seed + 1);
  }
  if (kind == Kind::rank_deficient && k >= 3) {
    for (index_t i = 0; i < n; ++i) {
      p.A(i, k - 1) = p.A(i, 0) + p.A(i, 1);
      if (k >= 4) p.A(i, k - 2) = p.A(i, 0);
    }
  }
  if (kind == Kind::zero_columns) {
    for (index_t i = 0; i < n; ++i) {
      p.X(i, 0) = 0;
      if (m > 7) p.X(i, 7) = 0;
      if (k >= 2) p.A(i, k / 2) = 0;  // a zero column of A: a zero pivot
    }
  }
  return p;
}

}  // namespace nnmf::test
