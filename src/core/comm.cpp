// The MPI communicator of a Context and the reductions of core/comm.hpp. Built without MPI,
// a context always has one process and every reduction is a no-op.
#include "core/comm.hpp"

#include <chrono>
#include <cstring>
#include <exception>

#include "nnmf/config.hpp"
#include "nnmf/error.hpp"

#if NNMF_WITH_MPI
#include <mpi.h>
#endif

namespace nnmf {
namespace detail {

namespace {
bool g_failure_agreed = false;
}
bool failure_agreed() noexcept { return g_failure_agreed; }

#if NNMF_WITH_MPI
struct Communicator {
  MPI_Comm comm = MPI_COMM_NULL;
  int size = 1, rank = 0;
  CommunicationStats stats;
  ~Communicator() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && comm != MPI_COMM_NULL) MPI_Comm_free(&comm);
  }
};

namespace {

/// Times one collective call and counts its payload.
template <class F>
void timed(const Context& ctx, std::size_t bytes, F&& call) {
  Communicator& c = *ctx.communicator();
  const auto t0 = std::chrono::steady_clock::now();
  call(c.comm);
  c.stats.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  c.stats.bytes += bytes;
  c.stats.calls += 1;
}

void reduce(const Context& ctx, void* data, std::size_t n, MPI_Datatype type, std::size_t elem,
            MPI_Op op) {
  if (!distributed(ctx) || n == 0) return;
  // Counts beyond int go in chunks (each chunk reduced whole, so the order stays fixed).
  const std::size_t chunk = std::size_t(1) << 30;
  for (std::size_t off = 0; off < n; off += chunk) {
    const int cnt = static_cast<int>(std::min(chunk, n - off));
    char* p = static_cast<char*>(data) + off * elem;
    timed(ctx, std::size_t(cnt) * elem,
          [&](MPI_Comm comm) { MPI_Allreduce(MPI_IN_PLACE, p, cnt, type, op, comm); });
  }
}

}  // namespace

void allreduce_sum(const Context& ctx, double* d, std::size_t n) {
  reduce(ctx, d, n, MPI_DOUBLE, sizeof(double), MPI_SUM);
}
void allreduce_sum(const Context& ctx, float* d, std::size_t n) {
  reduce(ctx, d, n, MPI_FLOAT, sizeof(float), MPI_SUM);
}
void allreduce_sum(const Context& ctx, std::int64_t* d, std::size_t n) {
  reduce(ctx, d, n, MPI_INT64_T, sizeof(std::int64_t), MPI_SUM);
}
void allreduce_max(const Context& ctx, std::int64_t* d, std::size_t n) {
  reduce(ctx, d, n, MPI_INT64_T, sizeof(std::int64_t), MPI_MAX);
}

std::int64_t exclusive_prefix_sum(const Context& ctx, std::int64_t v) {
  if (!distributed(ctx)) return 0;
  std::int64_t out = 0;
  timed(ctx, sizeof v, [&](MPI_Comm comm) {
    MPI_Exscan(&v, &out, 1, MPI_INT64_T, MPI_SUM, comm);
  });
  return ctx.process() == 0 ? 0 : out;
}

std::string broadcast(const Context& ctx, std::string s, int root) {
  if (!distributed(ctx)) return s;
  std::int64_t len = static_cast<std::int64_t>(s.size());
  timed(ctx, sizeof len, [&](MPI_Comm comm) { MPI_Bcast(&len, 1, MPI_INT64_T, root, comm); });
  s.resize(static_cast<std::size_t>(len));
  timed(ctx, s.size(), [&](MPI_Comm comm) {
    MPI_Bcast(s.data(), static_cast<int>(len), MPI_CHAR, root, comm);
  });
  return s;
}

std::vector<double> allgather(const Context& ctx, const std::vector<double>& v) {
  if (!distributed(ctx)) return v;
  std::vector<double> out(v.size() * static_cast<std::size_t>(ctx.processes()));
  timed(ctx, out.size() * sizeof(double), [&](MPI_Comm comm) {
    MPI_Allgather(v.data(), static_cast<int>(v.size()), MPI_DOUBLE, out.data(),
                  static_cast<int>(v.size()), MPI_DOUBLE, comm);
  });
  return out;
}

template <class T>
Matrix<T> gather_columns(const Context& ctx, const Matrix<T>& block, int root) {
  if (!distributed(ctx)) return block;
  const int P = ctx.processes();
  // Counts in values; blocks of more than 2^31 values are beyond this gather (k x m of S).
  std::vector<double> cols = allgather(ctx, {double(block.cols())});
  std::vector<int> counts(static_cast<std::size_t>(P)), displs(static_cast<std::size_t>(P));
  index_t total = 0;
  for (int r = 0; r < P; ++r) {
    const double c = cols[static_cast<std::size_t>(r)] * double(block.rows());
    if (c > 2147483647.0)
      throw RangeError("gather_columns: a block of " + std::to_string(c) +
                       " values is beyond one MPI message");
    counts[static_cast<std::size_t>(r)] = static_cast<int>(c);
    displs[static_cast<std::size_t>(r)] = static_cast<int>(total * block.rows());
    total += static_cast<index_t>(cols[static_cast<std::size_t>(r)]);
  }
  Matrix<T> out = ctx.process() == root ? Matrix<T>(block.rows(), total) : Matrix<T>();
  const MPI_Datatype type = sizeof(T) == 8 ? MPI_DOUBLE : MPI_FLOAT;
  timed(ctx, block.size() * sizeof(T), [&](MPI_Comm comm) {
    MPI_Gatherv(block.data(), static_cast<int>(block.size()), type, out.data(), counts.data(),
                displs.data(), type, root, comm);
  });
  return out;
}

std::shared_ptr<Communicator> make_communicator(const void* handle, std::size_t size) {
  if (size != sizeof(MPI_Comm))
    throw InvalidArgument("with_mpi: communicator handle of " + std::to_string(size) +
                          " bytes, this nnmf was built with an MPI whose MPI_Comm has " +
                          std::to_string(sizeof(MPI_Comm)) + " (another MPI library?)");
  int init = 0;
  MPI_Initialized(&init);
  if (!init) throw InvalidArgument("with_mpi: MPI is not initialized (call MPI_Init first)");
  MPI_Comm given;
  std::memcpy(&given, handle, sizeof given);
  if (given == MPI_COMM_NULL) throw InvalidArgument("with_mpi: the communicator is MPI_COMM_NULL");
  auto c = std::make_shared<Communicator>();
  MPI_Comm_dup(given, &c->comm);
  MPI_Comm_size(c->comm, &c->size);
  MPI_Comm_rank(c->comm, &c->rank);
  return c;
}

int comm_size(const Communicator* c) { return c ? c->size : 1; }
int comm_rank(const Communicator* c) { return c ? c->rank : 0; }
CommunicationStats comm_stats(const Communicator* c) { return c ? c->stats : CommunicationStats{}; }

#else  // without MPI: one process

struct Communicator {};

void allreduce_sum(const Context&, double*, std::size_t) {}
void allreduce_sum(const Context&, float*, std::size_t) {}
void allreduce_sum(const Context&, std::int64_t*, std::size_t) {}
void allreduce_max(const Context&, std::int64_t*, std::size_t) {}
std::int64_t exclusive_prefix_sum(const Context&, std::int64_t) { return 0; }
std::string broadcast(const Context&, std::string s, int) { return s; }
std::vector<double> allgather(const Context&, const std::vector<double>& v) { return v; }
template <class T>
Matrix<T> gather_columns(const Context&, const Matrix<T>& block, int) {
  return block;
}

std::shared_ptr<Communicator> make_communicator(const void*, std::size_t) {
  throw NotCompiled("with_mpi: nnmf was built without MPI (configure with -DNNMF_WITH_MPI=ON "
                    "on a machine with an MPI library, e.g. libopenmpi-dev)");
}
int comm_size(const Communicator*) { return 1; }
int comm_rank(const Communicator*) { return 0; }
CommunicationStats comm_stats(const Communicator*) { return {}; }

#endif

void all_or_none(const Context& ctx, const std::function<void()>& fn) {
  if (!distributed(ctx)) {
    fn();
    return;
  }
  std::exception_ptr err;
  std::string msg;
  try {
    fn();
  } catch (const std::exception& e) {
    err = std::current_exception();
    msg = e.what();
  }
  // The lowest failing rank, as -max(-rank); P when none failed.
  const std::int64_t P = ctx.processes();
  const std::int64_t first = -allreduce_max(ctx, err ? -std::int64_t(ctx.process()) : -P);
  if (first == P) return;
  g_failure_agreed = true;
  msg = broadcast(ctx, msg, static_cast<int>(first));
  if (first == ctx.process()) std::rethrow_exception(err);
  throw PeerError("process " + std::to_string(first) + " of " + std::to_string(P) +
                  " failed: " + msg);
}

template Matrix<float> gather_columns<float>(const Context&, const Matrix<float>&, int);
template Matrix<double> gather_columns<double>(const Context&, const Matrix<double>&, int);

}  // namespace detail

int Context::processes() const noexcept { return detail::comm_size(comm_.get()); }
int Context::process() const noexcept { return detail::comm_rank(comm_.get()); }
CommunicationStats Context::communication() const noexcept {
  return detail::comm_stats(comm_.get());
}

Context Context::with_communicator_handle(const void* handle, std::size_t size) const {
  Context c = *this;
  c.comm_ = detail::make_communicator(handle, size);
  return c;
}

}  // namespace nnmf
