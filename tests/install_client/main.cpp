// Solves a 3 x 2 NNLS problem through the installed library and checks the answer.
#include <nnmf/nnmf.hpp>

#include <cmath>
#include <cstdio>

int main() {
  auto ctx = nnmf::Context::host(1);
  // A = [1 0; 0 1; 1 1], x = [1; 2; 3]: s = [1; 2] exactly.
  nnmf::Matrix<double> A(3, 2, std::vector<double>{1, 0, 1, 0, 1, 1});
  nnmf::Matrix<double> X(3, 1, std::vector<double>{1, 2, 3});
  auto r = nnmf::nnls<double>(ctx, A.view(), X.view());
  const bool ok = std::abs(r.S(0, 0) - 1) < 1e-12 && std::abs(r.S(1, 0) - 2) < 1e-12 &&
                  r.all_converged();
  std::printf("nnmf %s client: s = [%g, %g] %s\n", NNMF_VERSION_STRING, r.S(0, 0), r.S(1, 0),
              ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
