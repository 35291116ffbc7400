// Solves a 3 x 2 NNLS problem through the installed library and checks the answer.
#include <nnmf/nnmf.hpp>

#include <cmath>
#include <cstdio>
#include <string>

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
#if NNMF_WITH_CUDA
  // A CUDA build's backend is the module libnnmf_cuda.so, installed next to libnnmf and loaded
  // by Context::cuda: it must load from the install tree (without a device the call then
  // reports the missing device, not a missing module).
  try {
    (void)nnmf::Context::cuda(0);
  } catch (const nnmf::Error& e) {
    if (std::string(e.what()).find("could not be loaded") != std::string::npos) {
      std::printf("CUDA module: %s\n", e.what());
      return 1;
    }
  }
#endif
  return ok ? 0 : 1;
}
