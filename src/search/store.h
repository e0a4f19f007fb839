#pragma once
// The result store of a run: RUN/results.sqlite (schema in docs/results-schema.md).
// Every work unit is written in one transaction, so a killed process loses at most the
// unit in flight and never corrupts the store. An existing store is checked when opened:
// SQLite's own integrity check, the schema, and the references between tables; a store that
// fails is an InputError that names the file and the way out. No LibTorch.
#include <sqlite3.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace lrpbench {

struct ConfigRow {
  int64_t id = 0;
  std::string family;        // empty for reference points
  std::string point;         // "grid", "trial" (sampled) or "reference"
  int64_t i1 = -1, i2 = -1;  // axis positions (grid points of two-parameter families)
  double param1 = 0, param2 = 0;
  std::vector<double> params;  // the family's parameter values in parameter order (none:
                               // reference points)
  int64_t round = 0;   // the halving rung / CMA-ES generation that created it (0 otherwise)
  std::string spec;    // composite text as given
  std::string config;  // canonical form
};

struct ImageRow {
  int64_t id = 0;     // position in the experiment
  std::string image;  // identifier: dataset index or file name (JSON text)
  int64_t label = -1;
  int64_t target = -1;
};

struct CurveRow {
  int64_t config_id = 0, image_id = 0;
  std::string order;
  std::vector<double> scores;
  double auc = 0, aopc = 0;
  std::optional<double> auc_normalized;
  int64_t unit = 0;  // the work unit that wrote it (read from the store; write_unit sets it)
};

// One metric's value for one (configuration, image); nullopt where it is undefined (SPEC:
// null, counted, left out of means).
struct MetricRow {
  int64_t config_id = 0, image_id = 0;
  std::string metric;
  std::optional<double> value;
  int64_t unit = 0;  // the work unit that wrote it (read from the store; write_unit sets it)
};

// What a work unit computes: its PF curves and the other metrics' values.
struct UnitResult {
  std::vector<CurveRow> curves;
  std::vector<MetricRow> metrics;
};

struct UnitRow {
  int64_t id = 0, image_id = 0;
  std::string family;  // family name, or "reference"
};

class Store {
 public:
  enum class Mode {
    Create,    // a new store (the file must not exist, or be empty)
    ReadWrite, // an existing store, checked, for resuming or merging into
    Read       // an existing store, checked, read only (report, merge sources, dump)
  };
  // Opens the store at `path`. An existing store that is not SQLite, is corrupt, lacks a
  // table or column, or holds rows that refer to nothing is an InputError naming `path` and
  // ending with `way_out` (e.g. "use --force to replace it, or another --out"). A new store
  // gets its schema and `definition` in one transaction; with ReadWrite, a database without
  // any table (a creation that was killed before it committed) is created the same way.
  // Opening an existing store writes nothing to it (see add_missing_tables). An SQLite I/O
  // error or a full disk while opening (its shared-memory file, say) is an OutputError
  // "cannot write ...", not a damaged store.
  Store(const std::string& path, Mode mode, const std::string& way_out,
        const std::string& definition = "");
  // Opens an existing store read only (tests and tools).
  explicit Store(const std::string& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const { return path_; }
  // Refuses this store: the InputError naming the file, `reason` and the way out.
  [[noreturn]] void refuse(const std::string& reason) const;
  // Adds the tables that newer versions added (empty) to an older store opened for writing:
  // called once the store has passed every check, so a refused store is never changed.
  void add_missing_tables();
  std::optional<std::string> meta(const std::string& key) const;
  void set_meta(const std::string& key, const std::string& value);

  // Writes the plan (configs, images, units) once; no-op when already present.
  void write_plan(const std::vector<ConfigRow>& configs, const std::vector<ImageRow>& images,
                  const std::vector<UnitRow>& units);
  std::vector<ConfigRow> configs() const;
  std::vector<ImageRow> images() const;
  std::vector<UnitRow> units() const;
  std::set<int64_t> done_units() const;
  // The curves of one unit and its completion, atomically. A failed write (a full disk)
  // rolls the unit back and throws OutputError naming the store.
  void write_unit(int64_t unit, const UnitResult& result);
  // Curves of finished units; a malformed row (scores blob, non-finite value) is an
  // InputError.
  std::vector<CurveRow> curves() const;
  // Metric values of finished units (stores made before metrics existed have none); a
  // non-finite value is an InputError.
  std::vector<MetricRow> metric_values() const;
  // Copies every finished unit of `other` (same plan) into this store.
  void merge_from(const std::string& other_path);

  // Reads under one transaction: every read between begin_snapshot() and end_snapshot()
  // sees the same committed state, even while another process writes the run.
  void begin_snapshot() const;
  void end_snapshot() const;

  // The documented dump of the store's rows (docs/results-schema.md): two stores are equal
  // when their dumps are.
  std::string dump() const;

 private:
  sqlite3* db_ = nullptr;
  std::string path_, way_out_;
  void exec(const std::string& sql) const;
  void verify() const;
  bool has_table(const std::string& name) const;
  [[noreturn]] void corrupt(const std::string& reason) const { refuse(reason); }
  // An SQLite failure while reading: a full disk or an I/O error is "cannot write" (exit 1),
  // anything else a damaged store.
  [[noreturn]] void failed(int rc, const std::string& what) const;
};

// An exclusive lock on a run folder (flock on RUN/.lock), released when the process
// ends, killed or not. Throws InputError naming the run when another process holds it.
class RunLock {
 public:
  explicit RunLock(const std::string& run_dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  // Whether another process holds the run's lock now (a search still writing it).
  static bool held_elsewhere(const std::string& run_dir);

 private:
  int fd_ = -1;
};

}  // namespace lrpbench
