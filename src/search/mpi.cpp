#include "search/mpi.h"

#include <cstdlib>
#include <cstring>
#include <iostream>

#include "util/error.h"

#ifdef LRPBENCH_WITH_MPI
#include <ATen/detail/CUDAHooksInterface.h>
#include <mpi.h>
#endif

namespace lrpbench {
namespace {

template <typename T>
void put(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

template <typename T>
T get(const std::string& in, size_t& pos) {
  if (pos + sizeof(T) > in.size()) throw std::runtime_error("corrupt unit message");
  T v;
  std::memcpy(&v, in.data() + pos, sizeof v);
  pos += sizeof v;
  return v;
}

void put_string(std::string& out, const std::string& s) {
  put(out, static_cast<int64_t>(s.size()));
  out += s;
}

std::string get_string(const std::string& in, size_t& pos) {
  const auto len = static_cast<size_t>(get<int64_t>(in, pos));
  if (len > in.size() - pos) throw std::runtime_error("corrupt unit message");
  std::string s = in.substr(pos, len);
  pos += len;
  return s;
}

}  // namespace

std::string encode_unit(int64_t unit, const UnitResult& result) {
  const std::vector<CurveRow>& curves = result.curves;
  std::string out;
  put(out, unit);
  put(out, static_cast<int64_t>(curves.size()));
  for (const CurveRow& c : curves) {
    put(out, c.config_id);
    put(out, c.image_id);
    put_string(out, c.order);
    put(out, static_cast<int64_t>(c.scores.size()));
    out.append(reinterpret_cast<const char*>(c.scores.data()), c.scores.size() * sizeof(double));
    put(out, c.auc);
    put(out, c.aopc);
    put(out, static_cast<uint8_t>(c.auc_normalized.has_value()));
    put(out, c.auc_normalized.value_or(0.0));
  }
  put(out, static_cast<int64_t>(result.metrics.size()));
  for (const MetricRow& m : result.metrics) {
    put(out, m.config_id);
    put(out, m.image_id);
    put_string(out, m.metric);
    put(out, static_cast<uint8_t>(m.value.has_value()));
    put(out, m.value.value_or(0.0));
  }
  return out;
}

UnitResult decode_unit(const std::string& in, int64_t* unit) {
  size_t pos = 0;
  *unit = get<int64_t>(in, pos);
  const auto n = static_cast<uint64_t>(get<int64_t>(in, pos));
  if (n > in.size()) throw std::runtime_error("corrupt unit message");
  UnitResult result;
  std::vector<CurveRow>& out = result.curves;
  out.resize(static_cast<size_t>(n));
  for (CurveRow& c : out) {
    c.config_id = get<int64_t>(in, pos);
    c.image_id = get<int64_t>(in, pos);
    c.order = get_string(in, pos);
    const auto k = static_cast<size_t>(get<int64_t>(in, pos));
    if (pos + k * sizeof(double) > in.size()) throw std::runtime_error("corrupt unit message");
    c.scores.resize(k);
    std::memcpy(c.scores.data(), in.data() + pos, k * sizeof(double));
    pos += k * sizeof(double);
    c.auc = get<double>(in, pos);
    c.aopc = get<double>(in, pos);
    const bool has = get<uint8_t>(in, pos) != 0;
    const double norm = get<double>(in, pos);
    if (has) c.auc_normalized = norm;
  }
  const auto m = static_cast<uint64_t>(get<int64_t>(in, pos));
  if (m > in.size()) throw std::runtime_error("corrupt unit message");
  result.metrics.resize(static_cast<size_t>(m));
  for (MetricRow& r : result.metrics) {
    r.config_id = get<int64_t>(in, pos);
    r.image_id = get<int64_t>(in, pos);
    r.metric = get_string(in, pos);
    const bool has = get<uint8_t>(in, pos) != 0;
    const double v = get<double>(in, pos);
    if (has) r.value = v;
  }
  if (pos != in.size()) throw std::runtime_error("corrupt unit message");
  return result;
}

std::string encode_work(int64_t unit, const std::vector<ConfigRow>& configs) {
  std::string out;
  put(out, unit);
  put(out, static_cast<int64_t>(configs.size()));
  for (const ConfigRow& c : configs) {
    put(out, c.id);
    put_string(out, c.spec);
  }
  return out;
}

std::vector<ConfigRow> decode_work(const std::string& in, int64_t* unit) {
  size_t pos = 0;
  *unit = get<int64_t>(in, pos);
  const auto n = static_cast<uint64_t>(get<int64_t>(in, pos));
  if (n > in.size()) throw std::runtime_error("corrupt work message");
  std::vector<ConfigRow> out(static_cast<size_t>(n));
  for (ConfigRow& c : out) {
    c.id = get<int64_t>(in, pos);
    if (c.id < 0) throw std::runtime_error("corrupt work message");
    c.spec = get_string(in, pos);
  }
  if (pos != in.size()) throw std::runtime_error("corrupt work message");
  return out;
}

#ifdef LRPBENCH_WITH_MPI

bool mpi_available() {
  return true;
}

bool mpi_launched() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}) {
    const char* v = std::getenv(var);
    if (v && std::atoi(v) > 1) return true;
  }
  return false;
}

namespace {

constexpr int kTagReady = 1, kTagWork = 2, kTagResult = 3;

struct MpiSession {
  MpiSession() {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  }
  ~MpiSession() { MPI_Finalize(); }
};

void send_bytes(const std::string& b, int dest, int tag) {
  MPI_Send(b.data(), static_cast<int>(b.size()), MPI_BYTE, dest, tag, MPI_COMM_WORLD);
}

// Receives the next message with `tag` (any tag when MPI_ANY_TAG) from `source`.
std::string receive(int source, int tag, MPI_Status* status) {
  MPI_Probe(source, tag, MPI_COMM_WORLD, status);
  int count = 0;
  MPI_Get_count(status, MPI_BYTE, &count);
  std::string msg(static_cast<size_t>(count), '\0');
  MPI_Recv(msg.data(), count, MPI_BYTE, status->MPI_SOURCE, status->MPI_TAG, MPI_COMM_WORLD,
           MPI_STATUS_IGNORE);
  return msg;
}

// Rank 0's side: hands units to the workers as they free up, batch after batch (a rung or a
// generation is one batch: the call returns when all of its units are back). Workers stay
// between batches until finish().
class Dispatcher {
 public:
  Dispatcher(int size, int64_t max_units) : unready_(size - 1), max_units_(max_units) {}

  void run(const Plan& plan, const std::vector<const UnitRow*>& units, const UnitSink& sink) {
    size_t next = 0;
    int outstanding = 0;
    const auto more = [&] {
      return next < units.size() && (max_units_ == 0 || sent_ < max_units_);
    };
    const auto give = [&](int rank) {
      if (!more()) return false;
      const UnitRow& u = *units[next++];
      std::vector<ConfigRow> configs;
      for (int64_t id : unit_config_ids(plan, u))
        configs.push_back(plan.configs[static_cast<size_t>(id)]);
      send_bytes(encode_work(u.id, configs), rank, kTagWork);
      ++sent_;
      ++outstanding;
      return true;
    };
    while (!idle_.empty() && give(idle_.back())) idle_.pop_back();
    while (outstanding > 0 || (more() && unready_ > 0)) {
      MPI_Status st;
      const std::string msg = receive(MPI_ANY_SOURCE, MPI_ANY_TAG, &st);
      if (st.MPI_TAG == kTagResult) {
        int64_t unit = 0;
        const UnitResult result = decode_unit(msg, &unit);
        sink(unit, result);
        --outstanding;
      } else {
        --unready_;
      }
      if (!give(st.MPI_SOURCE)) idle_.push_back(st.MPI_SOURCE);
    }
  }

  // Waits for workers still loading, then tells every worker to stop.
  void finish() {
    while (unready_ > 0) {
      MPI_Status st;
      receive(MPI_ANY_SOURCE, kTagReady, &st);
      --unready_;
      idle_.push_back(st.MPI_SOURCE);
    }
    for (int rank : idle_) send_bytes(encode_work(-1, {}), rank, kTagWork);
    idle_.clear();
  }

 private:
  std::vector<int> idle_;
  int unready_;
  int64_t max_units_, sent_ = 0;
};

}  // namespace

int64_t run_search_mpi(const Experiment& exp, const at::Device& device, const SearchOptions& opt) {
  const MpiSession session;
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  require(size > 1, "mpirun: needs at least 2 ranks (rank 0 owns the store)");
  try {
    if (rank == 0) {
      Dispatcher dispatcher(size, opt.max_units);
      const Executor exec = [&](const Plan& plan, const std::vector<const UnitRow*>& pending,
                                const UnitSink& sink) { dispatcher.run(plan, pending, sink); };
      const int64_t computed = run_search(exp, device, opt, &exec);
      dispatcher.finish();
      return computed;
    }
    // Workers: one GPU each under CUDA.
    at::Device dev = device;
    if (device.is_cuda())
      dev = at::Device(at::kCUDA,
                       static_cast<c10::DeviceIndex>(
                           (rank - 1) % std::max<int>(1, at::detail::getCUDAHooks().getNumGPUs())));
    Plan plan = make_plan(exp, dev);
    send_bytes("", 0, kTagReady);
    int64_t computed = 0;
    while (true) {
      MPI_Status st;
      int64_t unit = -1;
      const std::vector<ConfigRow> configs = decode_work(receive(0, kTagWork, &st), &unit);
      if (unit < 0) break;
      std::vector<int64_t> ids;
      for (const ConfigRow& c : configs) {
        learn_config(plan, c);
        ids.push_back(c.id);
      }
      const UnitRow& u = plan.units.at(static_cast<size_t>(unit));
      send_bytes(encode_unit(unit, compute_unit(plan, u, ids)), 0, kTagResult);
      ++computed;
    }
    return computed;
  } catch (const std::exception& e) {
    std::cerr << "lrpbench: error (rank " << rank << "): " << first_line(e.what()) << std::endl;
    MPI_Abort(MPI_COMM_WORLD, dynamic_cast<const InputError*>(&e) ? 2 : 1);
  }
  return 0;
}

#else

bool mpi_available() {
  return false;
}
bool mpi_launched() {
  return false;
}
int64_t run_search_mpi(const Experiment&, const at::Device&, const SearchOptions&) {
  throw InputError("this lrpbench was built without Open MPI (install libopenmpi-dev and rebuild)");
}

#endif

}  // namespace lrpbench
