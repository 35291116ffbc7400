// Small dense linear algebra on the host (k x k systems of the classifier and the accuracy
// rule), in double whatever the working precision.
#pragma once

#include <vector>

#include "nnmf/matrix.hpp"

namespace nnmf::detail {

/// B = N M^+ for symmetric positive semidefinite M (k x k) and N (c x k), the pseudo-inverse
/// taken by eigendecomposition with eigenvalues below 1e-12 * max eigenvalue treated as zero.
/// This is the least-squares B = Y S^+ of the paper's accuracy rule with N = Y S^T, M = S S^T.
Matrix<double> right_pinv_solve(const Matrix<double>& N, const Matrix<double>& M);

/// The class of each column of S (k x m) under the classifier B (c x k): argmax over the rows
/// of B S, accumulated in double; ties (e.g. a column of S that is all zero) go to the lowest
/// class. NeuralNmf::classify and the held-out accuracy of early stopping.
template <class T>
std::vector<int> classes_of(const Matrix<T>& B, MatrixView<const T> S);

}  // namespace nnmf::detail

namespace nnmf::detail {

/// Replaces the columns of A (n x l, n >= l) by an orthonormal basis of their span
/// (Householder QR, LAPACK dgeqrf + dorgqr).
void orthonormalize(Matrix<double>& A);

/// Eigenpairs of symmetric M (k x k): V's columns the eigenvectors, lambda the eigenvalues,
/// in decreasing order (LAPACK dsyev).
void symmetric_eigen(const Matrix<double>& M, Matrix<double>& V, std::vector<double>& lambda);

/// Thin SVD of B (l x m): B = U diag(s) Vt with U l x r, s r, Vt r x m, r = min(l, m),
/// singular values in decreasing order (LAPACK dgesdd).
void thin_svd(const Matrix<double>& B, Matrix<double>& U, std::vector<double>& s, Matrix<double>& Vt);

}  // namespace nnmf::detail
