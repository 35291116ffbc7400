// `nnmf nnls A X -o S`: one batched NNLS solve.
#include <chrono>
#include <cstdio>

#include "cli/cli.hpp"
#include "cli/numbers.hpp"
#include "cli/output.hpp"
#include "nnmf/error.hpp"

namespace nnmf::cli {
namespace {

struct NnlsArgs {
  std::string A, X, out, support;
  double tol = 0;
  int max_iter = 0;
  bool allow_unconverged = false;
};

/// The supports as a 0/1 sparse matrix.
template <class T>
CscMatrix<T> support_matrix(const NnlsResult<T>& r) {
  std::vector<index_t> I, J;
  std::vector<T> V;
  for (index_t j = 0; j < r.S.cols(); ++j)
    for (index_t i = 0; i < r.S.rows(); ++i)
      if (r.support.test(i, j)) {
        I.push_back(i);
        J.push_back(j);
        V.push_back(T(1));
      }
  return CscMatrix<T>::from_triplets(r.S.rows(), r.S.cols(), I, J, V);
}

template <class T>
int run_nnls(const Common& c, const NnlsArgs& a) {
  const Context ctx = c.context();
  check_output_file(a.out, "-o");
  if (!a.support.empty()) check_output_file(a.support, "--support");
  const auto t0 = std::chrono::steady_clock::now();
  const Matrix<T> A = io::read_dense<T>(a.A);
  const io::AnyMatrix<T> X = io::read_mtx<T>(a.X);
  NnlsOptions o;
  o.tol = a.tol;
  o.max_iter = a.max_iter;
  const NnlsResult<T> r = X.sparse ? nnls<T>(ctx, A.view(), X.csc, o) : nnls<T>(ctx, A.view(), X.dense.view(), o);
  if (r.iteration_limit_columns > 0 && !a.allow_unconverged)
    throw Error(std::to_string(r.iteration_limit_columns) + " of " + std::to_string(r.S.cols()) +
                " columns reached the iteration limit; raise --max-iter, or pass --allow-unconverged "
                "to write S anyway");
  // Single files are written atomically by the writers themselves.
  io::write_mtx<T>(a.out, r.S.view(), "S = argmin_{S >= 0} ||X - A S||_F (nnmf nnls)");
  if (!a.support.empty())
    io::write_mtx<T>(a.support, support_matrix(r), "passive sets of the NNLS solution (1 = in the support)");
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!c.quiet)
    std::fprintf(stderr, "nnls: %ld columns, k = %ld, %.3g active-set steps per column, %.3f s (%s)\n",
                 static_cast<long>(r.S.cols()), static_cast<long>(r.S.rows()),
                 r.S.cols() ? double(r.iterations) / double(r.S.cols()) : 0.0, secs, ctx.describe().c_str());
  if (r.iteration_limit_columns > 0)
    warn(std::to_string(r.iteration_limit_columns) + " columns reached the iteration limit (written anyway)");
  return 0;
}

}  // namespace

Command add_nnls_command(CLI::App& app, const Common& c) {
  auto a = std::make_shared<NnlsArgs>();
  CLI::App* cmd = app.add_subcommand("nnls", "S = argmin_{S >= 0} ||X - A S||_F, column by column");
  cmd->add_option("A", a->A, "factor A (N x k), Matrix Market")->required();
  cmd->add_option("X", a->X, "data X (N x m), Matrix Market, dense or sparse, .gz allowed")->required();
  cmd->add_option("-o,--output", a->out, "S (k x m) output file")->required();
  cmd->add_option("--support", a->support, "also write the supports as a 0/1 sparse matrix");
  add_real(cmd, "--tol", a->tol, "relative optimality tolerance (0 = default)", 0);
  add_int(cmd, "--max-iter", a->max_iter, "active-set iterations per column (0 = 3k+30)", 0);
  cmd->add_flag("--allow-unconverged", a->allow_unconverged, "write S even if some columns reached the iteration limit");
  const Common* cp = &c;
  return {cmd, [a, cp] { return dispatch(*cp, [&](auto t) { return run_nnls<decltype(t)>(*cp, *a); }); }};
}

}  // namespace nnmf::cli
