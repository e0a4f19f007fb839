#include "search/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "lrp/rule.h"
#include "util/error.h"

namespace lrpbench {
namespace {

const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS configs (
  id INTEGER PRIMARY KEY, family TEXT NOT NULL, point TEXT NOT NULL, i1 INTEGER, i2 INTEGER,
  param1 REAL, param2 REAL, spec TEXT NOT NULL, config TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS images (
  id INTEGER PRIMARY KEY, image TEXT NOT NULL, label INTEGER, target INTEGER);
CREATE TABLE IF NOT EXISTS units (
  id INTEGER PRIMARY KEY, image_id INTEGER NOT NULL, family TEXT NOT NULL,
  done INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS curves (
  config_id INTEGER NOT NULL, image_id INTEGER NOT NULL, ord TEXT NOT NULL, unit INTEGER NOT NULL,
  scores BLOB NOT NULL, auc REAL NOT NULL, auc_normalized REAL, aopc REAL NOT NULL,
  PRIMARY KEY (config_id, image_id, ord));
)";

// Tables added after the first stores (stores made before them lack them: readers treat them
// as empty, and a store opened for writing gets them, empty): schema, columns, row checks.
struct OptionalTable {
  const char* name;
  const char* schema;
  std::vector<std::string> columns;
  std::vector<std::pair<const char*, const char*>> checks;
};

const std::vector<OptionalTable>& optional_tables() {
  static const std::vector<OptionalTable> t = {
      {"metric_values",
       R"(CREATE TABLE IF NOT EXISTS metric_values (
  config_id INTEGER NOT NULL, image_id INTEGER NOT NULL, metric TEXT NOT NULL,
  unit INTEGER NOT NULL, value REAL, PRIMARY KEY (config_id, image_id, metric));)",
       {"config_id", "image_id", "metric", "unit", "value"},
       {{"SELECT COUNT(*) FROM metric_values WHERE config_id NOT IN (SELECT id FROM configs) OR "
         "image_id NOT IN (SELECT id FROM images) OR unit NOT IN (SELECT id FROM units)",
         "metric rows refer to configurations, images or work units that do not exist"},
        {"SELECT COUNT(*) FROM metric_values m JOIN units u ON u.id = m.unit "
         "WHERE u.image_id != m.image_id",
         "metric rows disagree with their work unit's image"},
        {"SELECT COUNT(*) FROM metric_values WHERE typeof(metric) != 'text' OR "
         "(value IS NOT NULL AND (typeof(value) NOT IN ('real', 'integer') OR "
         "abs(value) > 1.7976931348623157e308))",
         "metric rows are malformed or hold non-finite values"}}},
      {"config_params",
       R"(CREATE TABLE IF NOT EXISTS config_params (
  config_id INTEGER PRIMARY KEY, params TEXT NOT NULL, round INTEGER NOT NULL DEFAULT 0);)",
       {"config_id", "params", "round"},
       {{"SELECT COUNT(*) FROM config_params WHERE config_id NOT IN (SELECT id FROM configs)",
         "parameter rows refer to configurations that do not exist"},
        {"SELECT COUNT(*) FROM config_params WHERE typeof(params) != 'text' OR "
         "NOT json_valid(params) OR json_type(params) != 'array'",
         "parameter rows are not JSON arrays"}}},
  };
  return t;
}

std::string optional_schema() {
  std::string out;
  for (const OptionalTable& t : optional_tables()) out += std::string(t.schema) + "\n";
  return out;
}

const std::vector<std::pair<std::string, std::vector<std::string>>>& tables() {
  static const std::vector<std::pair<std::string, std::vector<std::string>>> t = {
      {"meta", {"key", "value"}},
      {"configs", {"id", "family", "point", "i1", "i2", "param1", "param2", "spec", "config"}},
      {"images", {"id", "image", "label", "target"}},
      {"units", {"id", "image_id", "family", "done"}},
      {"curves",
       {"config_id", "image_id", "ord", "unit", "scores", "auc", "auc_normalized", "aopc"}}};
  return t;
}

// Checks that find rows a valid store cannot hold: (SQL counting them, what they are).
const std::vector<std::pair<const char*, const char*>>& row_checks() {
  static const std::vector<std::pair<const char*, const char*>> c = {
      {"SELECT COUNT(*) FROM curves WHERE config_id NOT IN (SELECT id FROM configs)",
       "curve rows refer to configurations that do not exist"},
      {"SELECT COUNT(*) FROM curves WHERE image_id NOT IN (SELECT id FROM images)",
       "curve rows refer to images that do not exist"},
      {"SELECT COUNT(*) FROM curves WHERE unit NOT IN (SELECT id FROM units)",
       "curve rows refer to work units that do not exist"},
      {"SELECT COUNT(*) FROM curves c JOIN units u ON u.id = c.unit WHERE u.image_id != c.image_id",
       "curve rows disagree with their work unit's image"},
      {"SELECT COUNT(*) FROM units WHERE image_id NOT IN (SELECT id FROM images)",
       "work units refer to images that do not exist"},
      {"SELECT COUNT(*) FROM configs WHERE id < 0 OR id >= (SELECT COUNT(*) FROM configs)",
       "configuration ids are not 0 .. N-1"},
      {"SELECT COUNT(*) FROM images WHERE id < 0 OR id >= (SELECT COUNT(*) FROM images)",
       "image ids are not 0 .. N-1"},
      {"SELECT COUNT(*) FROM units WHERE done NOT IN (0, 1) OR typeof(id) != 'integer'",
       "work units have a malformed id or done flag"},
      {"SELECT COUNT(*) FROM configs WHERE point NOT IN ('grid', 'trial', 'reference') OR "
       "typeof(id) != 'integer' OR typeof(spec) != 'text' OR typeof(config) != 'text' OR "
       "typeof(i1) NOT IN ('integer', 'null') OR typeof(i2) NOT IN ('integer', 'null') OR "
       "(point != 'grid' AND (i1 IS NOT NULL OR i2 IS NOT NULL))",
       "configuration rows are malformed"},
      {"SELECT COUNT(*) FROM images WHERE typeof(id) != 'integer' OR typeof(image) != 'text' OR "
       "typeof(label) != 'integer' OR typeof(target) != 'integer' OR target < 0",
       "image rows are malformed"},
      {"SELECT COUNT(*) FROM curves WHERE typeof(scores) != 'blob' OR length(scores) = 0 OR "
       "length(scores) % 8 != 0 OR typeof(ord) != 'text' OR "
       "typeof(auc) NOT IN ('real', 'integer') OR typeof(aopc) NOT IN ('real', 'integer') OR "
       "(auc_normalized IS NOT NULL AND typeof(auc_normalized) NOT IN ('real', 'integer')) OR "
       "abs(auc) > 1.7976931348623157e308 OR abs(aopc) > 1.7976931348623157e308 OR "
       "abs(coalesce(auc_normalized, 0)) > 1.7976931348623157e308",
       "curve rows hold malformed scores or non-finite values"}};
  return c;
}

// An SQLite failure, with its result code (translated by the Store into InputError for what
// it read, OutputError for what it wrote).
struct SqlError : std::runtime_error {
  int rc;
  SqlError(int code, const std::string& what) : std::runtime_error(what), rc(code) {}
};

bool is_corruption(int rc) {
  return (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB ||
         (rc & 0xff) == SQLITE_FORMAT || (rc & 0xff) == SQLITE_MISMATCH;
}

class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql) : db_(db) {
    const int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &st_, nullptr);
    if (rc != SQLITE_OK) throw SqlError(rc, sqlite3_errmsg(db));
  }
  ~Statement() { sqlite3_finalize(st_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  sqlite3_stmt* get() const { return st_; }
  void bind(int i, int64_t v) { sqlite3_bind_int64(st_, i, v); }
  void bind(int i, double v) { sqlite3_bind_double(st_, i, v); }
  void bind(int i, const std::string& v) {
    sqlite3_bind_text(st_, i, v.c_str(), -1, SQLITE_TRANSIENT);
  }
  void bind_null(int i) { sqlite3_bind_null(st_, i); }
  void bind_blob(int i, const void* p, int n) { sqlite3_bind_blob(st_, i, p, n, SQLITE_TRANSIENT); }
  bool step() {
    const int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw SqlError(sqlite3_extended_errcode(db_), sqlite3_errmsg(db_));
  }
  void reset() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
  int64_t i64(int c) const { return sqlite3_column_int64(st_, c); }
  double f64(int c) const { return sqlite3_column_double(st_, c); }
  bool null(int c) const { return sqlite3_column_type(st_, c) == SQLITE_NULL; }
  std::string text(int c) const {
    const auto* p = sqlite3_column_text(st_, c);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<size_t>(sqlite3_column_bytes(st_, c)))
             : std::string();
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
};

bool nonempty_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && st.st_size > 0;
}

std::string num(double v) {
  return std::isfinite(v) ? format_number(v) : std::string("nonfinite");
}

}  // namespace

void Store::refuse(const std::string& reason) const {
  // One line, whatever SQLite said (quick_check reports one problem per line).
  std::string why;
  for (char c : reason) why += (c == '\n' || c == '\r') ? ' ' : c;
  if (why.size() > 160) why = why.substr(0, 157) + "...";
  throw InputError("'" + path_ + "' is not a usable result store (" + why + ")" +
                   (way_out_.empty() ? std::string() : "; " + way_out_));
}

void Store::failed(int rc, const std::string& what) const {
  // An I/O error is the disk's, not the store's: exit 1, never "not a usable result store".
  if (rc == SQLITE_IOERR_READ || rc == SQLITE_IOERR_SHORT_READ)
    throw OutputError("cannot read '" + path_ + "' (or its -wal / -shm file beside it): " + what);
  if ((rc & 0xff) == SQLITE_FULL || (rc & 0xff) == SQLITE_IOERR)
    throw OutputError("cannot write '" + path_ + "' (or its -wal / -shm file beside it): " + what);
  corrupt(what);
}

Store::Store(const std::string& path) : Store(path, Mode::Read, "") {}

Store::Store(const std::string& path, Mode mode, const std::string& way_out,
             const std::string& definition)
    : path_(path), way_out_(way_out) {
  const bool exists = nonempty_file(path);
  if (mode != Mode::Create) {
    if (!exists) corrupt("missing or empty");
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    char magic[16] = {0};
    const bool readable = fd >= 0 && ::read(fd, magic, sizeof magic) == 16;
    if (fd >= 0) ::close(fd);
    if (!readable) corrupt("cannot read it");
    if (std::memcmp(magic, "SQLite format 3", 16) != 0) corrupt("not an SQLite database");
  }
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX;
  if (mode == Mode::Create) flags |= SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK && mode == Mode::Read) {
    sqlite3_close(db_);
    db_ = nullptr;
    rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr);
  }
  if (rc != SQLITE_OK) {
    const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    if (mode == Mode::Create) throw OutputError("cannot write result store '" + path + "': " + msg);
    failed(rc, msg);
  }
  sqlite3_busy_timeout(db_, 10000);
  try {
    bool shell = false;  // a database without tables: a creation killed before its commit
    if (exists && mode == Mode::ReadWrite) {
      Statement st(db_, "SELECT COUNT(*) FROM sqlite_master");
      shell = st.step() && st.i64(0) == 0;
    }
    if ((mode == Mode::Create && !exists) || shell) {
      exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
      // Schema and definition in one transaction: a store is whole or has no tables.
      exec(std::string("BEGIN IMMEDIATE;") + kSchema + optional_schema());
      if (!definition.empty()) {
        Statement st(db_, "INSERT INTO meta (key, value) VALUES ('definition', ?)");
        st.bind(1, definition);
        st.step();
      }
      exec("COMMIT;");
    } else {
      exec("PRAGMA synchronous=NORMAL;");
      verify();
    }
  } catch (const SqlError& e) {
    sqlite3_close(db_);
    db_ = nullptr;
    if (mode == Mode::Create && !is_corruption(e.rc))
      throw OutputError("cannot write result store '" + path + "': " + e.what());
    failed(e.rc, e.what());
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

Store::~Store() {
  if (db_) sqlite3_close(db_);
}

void Store::exec(const std::string& sql) const {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    const std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw SqlError(sqlite3_extended_errcode(db_), msg);
  }
}

void Store::verify() const {
  {
    Statement st(db_, "PRAGMA quick_check(1)");
    const std::string result = st.step() ? st.text(0) : "no answer";
    if (result != "ok") corrupt("integrity check: " + result);
  }
  for (const auto& [table, columns] : tables()) {
    Statement st(db_, "PRAGMA table_info(" + table + ")");
    std::set<std::string> have;
    while (st.step()) have.insert(st.text(1));
    if (have.empty()) corrupt("table '" + table + "' is missing");
    for (const std::string& c : columns)
      if (!have.count(c)) corrupt("table '" + table + "' has no column '" + c + "'");
  }
  for (const auto& [sql, what] : row_checks()) {
    Statement st(db_, sql);
    const int64_t n = st.step() ? st.i64(0) : 0;
    if (n > 0) corrupt(std::to_string(n) + " " + what);
  }
  for (const OptionalTable& t : optional_tables()) {
    if (!has_table(t.name)) continue;
    Statement st(db_, std::string("PRAGMA table_info(") + t.name + ")");
    std::set<std::string> have;
    while (st.step()) have.insert(st.text(1));
    for (const std::string& c : t.columns)
      if (!have.count(c)) corrupt(std::string("table '") + t.name + "' has no column '" + c + "'");
    for (const auto& [sql, what] : t.checks) {
      Statement q(db_, sql);
      const int64_t n = q.step() ? q.i64(0) : 0;
      if (n > 0) corrupt(std::to_string(n) + " " + what);
    }
  }
  const auto def = meta("definition");
  if (!def) corrupt("no run definition: not made by lrpbench search");
  if (!nlohmann::json::accept(*def)) corrupt("its run definition is not valid JSON");
}

bool Store::has_table(const std::string& name) const {
  try {
    Statement st(db_, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?");
    st.bind(1, name);
    return st.step() && st.i64(0) > 0;
  } catch (const SqlError& e) {
    failed(e.rc, e.what());
  }
}

std::optional<std::string> Store::meta(const std::string& key) const {
  try {
    Statement st(db_, "SELECT value FROM meta WHERE key = ?");
    st.bind(1, key);
    if (st.step()) return st.text(0);
    return std::nullopt;
  } catch (const SqlError& e) {
    failed(e.rc, e.what());
  }
}

namespace {

// Runs a write in one transaction: on failure (e.g. a full disk) it is rolled back and the
// cause reported as an OutputError naming the store.
template <typename F>
void transaction(sqlite3* db, const std::string& path, const std::string& what, F body) {
  auto run = [&](const char* sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      const std::string msg = err ? err : sqlite3_errstr(rc);
      sqlite3_free(err);
      throw SqlError(sqlite3_extended_errcode(db), msg);
    }
  };
  try {
    run("BEGIN IMMEDIATE");
    body();
    run("COMMIT");
  } catch (const SqlError& e) {
    if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw OutputError("cannot write '" + path + "': " + e.what() + " (" + what + ")");
  }
}

}  // namespace

void Store::add_missing_tables() {
  transaction(db_, path_, "tables of this version not added", [&] {
    for (const OptionalTable& t : optional_tables())
      if (!has_table(t.name)) exec(t.schema);
  });
}

void Store::set_meta(const std::string& key, const std::string& value) {
  transaction(db_, path_, "run settings not saved", [&] {
    Statement st(db_, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)");
    st.bind(1, key);
    st.bind(2, value);
    st.step();
  });
}

void Store::write_plan(const std::vector<ConfigRow>& configs, const std::vector<ImageRow>& images,
                       const std::vector<UnitRow>& units) {
  transaction(db_, path_, "the plan was not saved; run the same command again", [&] {
    Statement c(db_, "INSERT OR IGNORE INTO configs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    for (const ConfigRow& r : configs) {
      c.bind(1, r.id);
      c.bind(2, r.family);
      c.bind(3, r.point);
      if (r.point == "grid" && r.i1 >= 0) {
        c.bind(4, r.i1);
        c.bind(5, r.i2);
        c.bind(6, r.param1);
        c.bind(7, r.param2);
      } else {
        for (int k = 4; k <= 7; ++k) c.bind_null(k);
      }
      c.bind(8, r.spec);
      c.bind(9, r.config);
      c.step();
      c.reset();
    }
    // Parameters that param1 / param2 do not hold (templates of other than two parameters,
    // sampled trials).
    Statement pr(db_, "INSERT OR IGNORE INTO config_params VALUES (?, ?, ?)");
    for (const ConfigRow& r : configs) {
      if (r.params.empty() || (r.point == "grid" && r.i1 >= 0)) continue;
      std::string json = "[";
      for (size_t k = 0; k < r.params.size(); ++k) json += (k ? "," : "") + num(r.params[k]);
      pr.bind(1, r.id);
      pr.bind(2, json + "]");
      pr.bind(3, r.round);
      pr.step();
      pr.reset();
    }
    Statement im(db_, "INSERT OR IGNORE INTO images VALUES (?, ?, ?, ?)");
    for (const ImageRow& r : images) {
      im.bind(1, r.id);
      im.bind(2, r.image);
      im.bind(3, r.label);
      im.bind(4, r.target);
      im.step();
      im.reset();
    }
    Statement u(db_, "INSERT OR IGNORE INTO units (id, image_id, family) VALUES (?, ?, ?)");
    for (const UnitRow& r : units) {
      u.bind(1, r.id);
      u.bind(2, r.image_id);
      u.bind(3, r.family);
      u.step();
      u.reset();
    }
  });
}

std::vector<ConfigRow> Store::configs() const {
  std::vector<ConfigRow> out;
  try {
    Statement st(
        db_,
        "SELECT id, family, point, i1, i2, param1, param2, spec, config FROM configs ORDER BY id");
    while (st.step()) {
      ConfigRow r;
      r.id = st.i64(0);
      r.family = st.text(1);
      r.point = st.text(2);
      r.i1 = st.null(3) ? -1 : st.i64(3);
      r.i2 = st.null(4) ? -1 : st.i64(4);
      r.param1 = st.f64(5);
      r.param2 = st.f64(6);
      r.spec = st.text(7);
      r.config = st.text(8);
      if (r.point == "grid" && r.i1 >= 0) r.params = {r.param1, r.param2};
      out.push_back(std::move(r));
    }
    if (has_table("config_params")) {
      Statement p(db_, "SELECT config_id, params, round FROM config_params ORDER BY config_id");
      while (p.step()) {
        const auto id = static_cast<size_t>(p.i64(0));
        if (id < out.size()) out[id].round = p.i64(2);
        const nlohmann::json j = nlohmann::json::parse(p.text(1), nullptr, false);
        if (id >= out.size() || !j.is_array()) corrupt("a parameter row is malformed");
        out[id].params.clear();
        for (const auto& v : j) {
          if (!v.is_number()) corrupt("a parameter row holds a non-number");
          out[id].params.push_back(v.get<double>());
        }
      }
    }
  } catch (const SqlError& e) {
    failed(e.rc, e.what());
  }
  return out;
}

std::vector<ImageRow> Store::images() const {
  std::vector<ImageRow> out;
  try {
    Statement st(db_, "SELECT id, image, label, target FROM images ORDER BY id");
    while (st.step()) out.push_back({st.i64(0), st.text(1), st.i64(2), st.i64(3)});
  } catch (const SqlError& e) {
    failed(e.rc, e.what());
  }
  return out;
}

std::vector<UnitRow> Store::units() const {
  std::vector<UnitRow> out;
  try {
    Statement st(db_, "SELECT id, image_id, family FROM units ORDER BY id");
    while (st.step()) out.push_back({st.i64(0), st.i64(1), st.text(2)});
  } catch (const SqlError& e) {
    failed(e.rc, e.what());
  }
  return out;
}

std::set<int64_t> Store::done_units() const {
  std::set<int64_t> out;
  try {
    Statement st(db_, "SELECT id FROM units WHERE done = 1");
    while (st.step()) out.insert(st.i64(0));
  } catch (const SqlError& e) {
    failed(e.rc, e.what());
  }
  return out;
}

void Store::write_unit(int64_t unit, const UnitResult& result) {
  const std::vector<CurveRow>& curves = result.curves;
  transaction(db_, path_,
              "work unit " + std::to_string(unit) +
                  " rolled back; run the same command again to resume",
              [&] {
                Statement c(db_, "INSERT OR REPLACE INTO curves VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
                for (const CurveRow& r : curves) {
                  c.bind(1, r.config_id);
                  c.bind(2, r.image_id);
                  c.bind(3, r.order);
                  c.bind(4, unit);
                  c.bind_blob(5, r.scores.data(),
                              static_cast<int>(r.scores.size() * sizeof(double)));
                  c.bind(6, r.auc);
                  if (r.auc_normalized)
                    c.bind(7, *r.auc_normalized);
                  else
                    c.bind_null(7);
                  c.bind(8, r.aopc);
                  c.step();
                  c.reset();
                }
                if (!result.metrics.empty()) {
                  Statement m(db_,
                              "INSERT OR REPLACE INTO metric_values VALUES (?, ?, ?, ?, ?)");
                  for (const MetricRow& r : result.metrics) {
                    m.bind(1, r.config_id);
                    m.bind(2, r.image_id);
                    m.bind(3, r.metric);
                    m.bind(4, unit);
                    if (r.value && std::isfinite(*r.value))
                      m.bind(5, *r.value);
                    else
                      m.bind_null(5);
                    m.step();
                    m.reset();
                  }
                }
                Statement u(db_, "UPDATE units SET done = 1 WHERE id = ?");
                u.bind(1, unit);
                u.step();
              });
}

std::vector<CurveRow> Store::curves() const {
  std::vector<CurveRow> out;
  try {
    Statement st(db_,
                 "SELECT c.config_id, c.image_id, c.ord, c.scores, c.auc, c.auc_normalized, "
                 "c.aopc, c.unit FROM curves c JOIN units u ON u.id = c.unit WHERE u.done = 1 "
                 "ORDER BY c.config_id, c.image_id, c.ord");
    while (st.step()) {
      CurveRow r;
      r.config_id = st.i64(0);
      r.image_id = st.i64(1);
      r.order = st.text(2);
      const int bytes = sqlite3_column_bytes(st.get(), 3);
      const auto* blob = static_cast<const char*>(sqlite3_column_blob(st.get(), 3));
      if (!blob || bytes <= 0 || bytes % static_cast<int>(sizeof(double)) != 0)
        corrupt("a curve's scores are not a float64 array");
      r.scores.resize(static_cast<size_t>(bytes) / sizeof(double));
      std::memcpy(r.scores.data(), blob, static_cast<size_t>(bytes));
      r.auc = st.f64(4);
      if (!st.null(5)) r.auc_normalized = st.f64(5);
      r.aopc = st.f64(6);
      r.unit = st.i64(7);
      bool finite = std::isfinite(r.auc) && std::isfinite(r.aopc) &&
                    (!r.auc_normalized || std::isfinite(*r.auc_normalized));
      for (double s : r.scores) finite = finite && std::isfinite(s);
      if (!finite) corrupt("a curve holds non-finite values");
      out.push_back(std::move(r));
    }
  } catch (const SqlError& e) {
    failed(e.rc, e.what());
  }
  return out;
}

std::vector<MetricRow> Store::metric_values() const {
  std::vector<MetricRow> out;
  if (!has_table("metric_values")) return out;
  try {
    Statement st(db_,
                 "SELECT m.config_id, m.image_id, m.metric, m.value, m.unit FROM metric_values m "
                 "JOIN units u ON u.id = m.unit WHERE u.done = 1 "
                 "ORDER BY m.config_id, m.image_id, m.metric");
    while (st.step()) {
      MetricRow r{st.i64(0), st.i64(1), st.text(2), std::nullopt, st.i64(4)};
      if (!st.null(3)) {
        r.value = st.f64(3);
        if (!std::isfinite(*r.value)) corrupt("a metric value is not finite");
      }
      out.push_back(std::move(r));
    }
  } catch (const SqlError& e) {
    failed(e.rc, e.what());
  }
  return out;
}

void Store::merge_from(const std::string& other) {
  try {
    Statement at(db_, "ATTACH DATABASE ? AS other");
    at.bind(1, other);
    at.step();
  } catch (const SqlError& e) {
    if ((e.rc & 0xff) == SQLITE_FULL || (e.rc & 0xff) == SQLITE_IOERR)
      throw OutputError("cannot write '" + path_ + "' (merging '" + other + "'): " + e.what());
    throw InputError("merge: cannot read '" + other + "': " + e.what());
  }
  try {
    transaction(db_, path_, "nothing of '" + other + "' merged", [&] {
      exec(
          "INSERT OR IGNORE INTO curves SELECT c.* FROM other.curves c JOIN other.units u "
          "ON u.id = c.unit WHERE u.done = 1");
      bool other_metrics = false;
      {
        Statement st(db_, "SELECT COUNT(*) FROM other.sqlite_master WHERE type = 'table' AND "
                          "name = 'metric_values'");
        other_metrics = st.step() && st.i64(0) > 0;
      }
      if (other_metrics)
        exec(
            "INSERT OR IGNORE INTO metric_values (config_id, image_id, metric, unit, value) "
            "SELECT m.config_id, m.image_id, m.metric, m.unit, m.value FROM "
            "other.metric_values m JOIN other.units u ON u.id = m.unit WHERE u.done = 1");
      exec("UPDATE units SET done = 1 WHERE id IN (SELECT id FROM other.units WHERE done = 1)");
    });
  } catch (...) {
    sqlite3_exec(db_, "DETACH DATABASE other", nullptr, nullptr, nullptr);
    throw;
  }
  sqlite3_exec(db_, "DETACH DATABASE other", nullptr, nullptr, nullptr);
}

void Store::begin_snapshot() const {
  try {
    exec("BEGIN");
    Statement st(db_, "SELECT COUNT(*) FROM units");  // the read transaction starts here
    st.step();
  } catch (const SqlError& e) {
    failed(e.rc, e.what());
  }
}

void Store::end_snapshot() const {
  sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
}

std::string Store::dump() const {
  std::string out = "lrpbench store dump 1\n";
  begin_snapshot();
  try {
    out += "definition " + meta("definition").value_or("") + "\n";
    if (const auto pareto = meta("pareto")) out += "pareto " + *pareto + "\n";
    for (const ConfigRow& c : configs())
      out += "config " + std::to_string(c.id) + " family=" + c.family + " point=" + c.point +
             " i1=" + std::to_string(c.i1) + " i2=" + std::to_string(c.i2) + " param1=" +
             num(c.param1) + " param2=" + num(c.param2) + " spec=" + c.spec +
             " config=" + c.config + "\n";
    if (has_table("config_params")) {
      Statement p(db_, "SELECT config_id, params, round FROM config_params ORDER BY config_id");
      while (p.step())
        out += "params " + std::to_string(p.i64(0)) + " " + p.text(1) +
               (p.i64(2) ? " round=" + std::to_string(p.i64(2)) : std::string()) + "\n";
    }
    for (const ImageRow& i : images())
      out += "image " + std::to_string(i.id) + " id=" + i.image + " label=" +
             std::to_string(i.label) + " target=" + std::to_string(i.target) + "\n";
    const std::set<int64_t> done = done_units();
    for (const UnitRow& u : units())
      out += "unit " + std::to_string(u.id) + " image=" + std::to_string(u.image_id) +
             " family=" + u.family + " done=" + (done.count(u.id) ? "1" : "0") + "\n";
    Statement st(db_,
                 "SELECT config_id, image_id, ord, unit, scores, auc, auc_normalized, aopc "
                 "FROM curves ORDER BY config_id, image_id, ord");
    while (st.step()) {
      out += "curve " + std::to_string(st.i64(0)) + " image=" + std::to_string(st.i64(1)) +
             " order=" + st.text(2) + " unit=" + std::to_string(st.i64(3)) +
             " auc=" + num(st.f64(5)) +
             " auc_normalized=" + (st.null(6) ? std::string("null") : num(st.f64(6))) +
             " aopc=" + num(st.f64(7)) + " scores=";
      const int bytes = sqlite3_column_bytes(st.get(), 4);
      const auto* blob = static_cast<const char*>(sqlite3_column_blob(st.get(), 4));
      for (int k = 0; blob && k + 8 <= bytes; k += 8) {
        double v = 0;
        std::memcpy(&v, blob + k, 8);
        out += (k ? "," : "") + num(v);
      }
      out += "\n";
    }
    // Metric values (absent from stores without any: their dumps are as before).
    if (has_table("metric_values")) {
      Statement m(db_,
                  "SELECT config_id, image_id, metric, unit, value FROM metric_values "
                  "ORDER BY config_id, image_id, metric");
      while (m.step())
        out += "metric " + std::to_string(m.i64(0)) + " image=" + std::to_string(m.i64(1)) +
               " metric=" + m.text(2) + " unit=" + std::to_string(m.i64(3)) +
               " value=" + (m.null(4) ? std::string("null") : num(m.f64(4))) + "\n";
    }
  } catch (const SqlError& e) {
    end_snapshot();
    failed(e.rc, e.what());
  } catch (...) {
    end_snapshot();
    throw;
  }
  end_snapshot();
  return out;
}

RunLock::RunLock(const std::string& run_dir) {
  const std::string path = run_dir + "/.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw OutputError("cannot create lock file '" + path + "': " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    fd_ = -1;
    throw InputError("run '" + run_dir + "' is in use by another lrpbench process (lock " + path +
                     ")");
  }
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);
}

bool RunLock::held_elsewhere(const std::string& run_dir) {
  const int fd = ::open((run_dir + "/.lock").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool held = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);
  return held;
}

}  // namespace lrpbench
