#include "cli/mpi_run.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "core/comm.hpp"
#include "nnmf/config.hpp"

#if NNMF_WITH_MPI
#include "nnmf/mpi.hpp"
#endif

namespace nnmf::cli::mpi {
namespace {
bool g_active = false;
int g_rank = 0, g_size = 1;

/// Process count the launcher announces (Open MPI, or PMI launchers such as MPICH's); 0 if none.
int launcher_size() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}) {
    const char* s = std::getenv(v);
    if (s && *s) return std::atoi(s);
  }
  return 0;
}
}  // namespace

#if NNMF_WITH_MPI
void start(int* argc, char*** argv) {
  if (launcher_size() <= 1) return;
  int init = 0;
  MPI_Initialized(&init);
  if (!init) MPI_Init(argc, argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  g_active = g_size > 1;
}

void finish() {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (init && !fin) MPI_Finalize();
}

Context wrap(const Context& ctx) { return g_active ? with_mpi(ctx, MPI_COMM_WORLD) : ctx; }

int end_after_error(int code, bool same_everywhere) {
  if (!g_active) return code;
  std::fflush(stdout);
  std::fflush(stderr);
  if (!same_everywhere && !detail::failure_agreed()) MPI_Abort(MPI_COMM_WORLD, code);
  finish();
  return code;
}
#else
void start(int*, char***) {
  if (launcher_size() > 1)
    std::fprintf(stderr, "nnmf: warning: started by an MPI launcher, but this nnmf was built without "
                         "MPI: every process runs alone\n");
}
void finish() {}
Context wrap(const Context& ctx) { return ctx; }
int end_after_error(int code, bool) { return code; }
#endif

Context agreed_context(const std::function<Context()>& make) {
  if (!g_active) return make();
  std::optional<Context> ctx;
  detail::all_or_none(wrap(Context::host(1)), [&] { ctx = wrap(make()); });
  return *ctx;
}

template <class T>
void write_s_blocks(const Context& ctx, const std::string& staging, const std::vector<Matrix<T>>& S,
                    std::pair<index_t, index_t> block, index_t total_cols, const std::string& what) {
  const std::string dir = detail::broadcast(ctx, staging, 0);
  detail::all_or_none(ctx, [&] {
    for (std::size_t l = 0; l < S.size(); ++l) {
      const std::string name = "S" + std::to_string(l) + ".p" + std::to_string(ctx.process()) + ".mtx";
      io::write_mtx<T>(dir + name, S[l].view(),
                       "coefficients S" + std::to_string(l) + " of " + what + ": columns " +
                           std::to_string(block.first) + " .. " + std::to_string(block.first + block.second - 1) +
                           " of " + std::to_string(total_cols) + " (process " + std::to_string(ctx.process()) +
                           " of " + std::to_string(ctx.processes()) + ")");
    }
  });
}
template void write_s_blocks<float>(const Context&, const std::string&, const std::vector<Matrix<float>>&,
                                    std::pair<index_t, index_t>, index_t, const std::string&);
template void write_s_blocks<double>(const Context&, const std::string&, const std::vector<Matrix<double>>&,
                                     std::pair<index_t, index_t>, index_t, const std::string&);

bool active() { return g_active; }
int node_process() {
  for (const char* v : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "PMIX_LOCAL_RANK"}) {
    const char* s = std::getenv(v);
    if (s && *s) return std::max(0, std::atoi(s));
  }
  return 0;
}
int process() { return g_rank; }
int processes() { return g_size; }

std::pair<index_t, index_t> block(index_t m, index_t window) {
  const index_t P = g_size, r = g_rank, w = std::max<index_t>(window, 1);
  const index_t groups = (m + w - 1) / w;
  const index_t first = std::min(m, groups * r / P * w), last = std::min(m, groups * (r + 1) / P * w);
  return {first, last - first};
}

}  // namespace nnmf::cli::mpi
