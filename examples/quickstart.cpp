// Fits a two-layer Neural NMF to a tf-idf matrix, prints the topics of both layers, saves the
// model, and calls the core (batched NNLS and its backward pass) directly.
// Usage: quickstart [DATA_DIR]   (default data/20news-subsample: X.mtx and vocab.txt)
#include <nnmf/nnmf.hpp>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "data/20news-subsample";
  auto ctx = nnmf::Context::host();                        // or nnmf::Context::cuda(0)
  auto X = nnmf::io::read_sparse<double>(dir + "/X.mtx");  // terms x documents, never densified
  nnmf::FitOptions opts;
  opts.ranks = {10, 6};
  opts.energy_weight = 1;
  opts.reconstruction_weight = 0;
  auto model = nnmf::NeuralNmf<double>::fit(ctx, X, opts);
  auto S = model.transform(ctx, X);                        // S(0) is 10 x m, S(1) is 6 x m
  const auto vocab = nnmf::io::read_lines(dir + "/vocab.txt");
  for (nnmf::index_t l = 0; l < model.layers(); ++l) {
    const auto topics = model.top_terms(l, 6, vocab);
    for (std::size_t t = 0; t < topics.size(); ++t) {
      std::printf("layer %lld topic %zu:", static_cast<long long>(l), t);
      for (const auto& w : topics[t]) std::printf(" %s", w.c_str());
      std::printf("\n");
    }
  }
  model.save("model.nnmf");

  // The core: S = argmin_{S>=0} ||X - A S|| for every document at once, with each column's
  // support, then the gradient of L = sum(S) with respect to A through the solve.
  const nnmf::Matrix<double> A = model.layer_dictionary(0);
  auto r = nnmf::nnls<double>(ctx, A.view(), X);
  nnmf::Matrix<double> dLdS(r.S.rows(), r.S.cols(), 1.0);
  auto g = nnmf::nnls_backward<double>(ctx, A.view(), X, r.S.view(), r.support, dLdS.view());
  std::printf("%lld columns solved, all converged: %s; dL/dA is %lld x %lld\n",
              static_cast<long long>(r.S.cols()), r.all_converged() ? "yes" : "no",
              static_cast<long long>(g.dA.rows()), static_cast<long long>(g.dA.cols()));
  return r.all_converged() && S.size() == 2 ? 0 : 1;
}
