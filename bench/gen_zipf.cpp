// A synthetic corpus for the MPI scaling benchmark (bench/mpi_scaling.sh): DOCS documents over
// TERMS terms, each with about NNZ distinct terms drawn from a Zipf law (exponent 1.07, as in
// natural text), weighted like tf-idf (1 + log tf) and l2-normalized per document. Written as
// a Matrix Market coordinate file (terms x documents) on stdout, column by column.
// Usage: gen_zipf DOCS TERMS NNZ SEED > X.mtx
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: gen_zipf DOCS TERMS NNZ SEED > X.mtx\n");
    return 2;
  }
  const long docs = std::atol(argv[1]), terms = std::atol(argv[2]), nnz = std::atol(argv[3]);
  std::mt19937_64 rng(std::strtoull(argv[4], nullptr, 10));
  std::vector<double> cdf(static_cast<std::size_t>(terms));
  double s = 0;
  for (long t = 0; t < terms; ++t) cdf[static_cast<std::size_t>(t)] = (s += std::pow(double(t + 1), -1.07));
  for (double& c : cdf) c /= s;
  std::uniform_real_distribution<double> u(0, 1);
  std::printf("%%%%MatrixMarket matrix coordinate real general\n%% gen_zipf %ld docs, %ld terms, %ld terms/doc\n",
              docs, terms, nnz);
  // The entry count is known only at the end: the size line is padded and rewritten.
  const long pos = std::ftell(stdout);
  std::printf("%ld %ld %-20ld\n", terms, docs, 0L);
  long total = 0;
  std::vector<long> idx;
  std::vector<double> w;
  for (long d = 0; d < docs; ++d) {
    idx.clear();
    for (long k = 0; k < nnz * 7 / 5; ++k)  // about nnz distinct terms under this law
      idx.push_back(std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin());
    std::sort(idx.begin(), idx.end());
    w.clear();
    std::vector<long> uniq;
    for (std::size_t i = 0; i < idx.size();) {
      std::size_t j = i;
      while (j < idx.size() && idx[j] == idx[i]) ++j;
      uniq.push_back(idx[i]);
      w.push_back(1 + std::log(double(j - i)));
      i = j;
    }
    double n2 = 0;
    for (double x : w) n2 += x * x;
    const double inv = 1 / std::sqrt(n2);
    for (std::size_t i = 0; i < uniq.size(); ++i)
      std::printf("%ld %ld %.6g\n", uniq[i] + 1, d + 1, w[i] * inv);
    total += static_cast<long>(uniq.size());
  }
  if (std::fseek(stdout, pos, SEEK_SET) == 0) std::printf("%ld %ld %-20ld\n", terms, docs, total);
  return 0;
}
