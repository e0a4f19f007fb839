#include "search/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstring>

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

class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st_, nullptr) != SQLITE_OK)
      throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(db));
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
    throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(sqlite3_db_handle(st_)));
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
    return p ? reinterpret_cast<const char*>(p) : "";
  }

 private:
  sqlite3_stmt* st_ = nullptr;
};

}  // namespace

Store::Store(const std::string& path) : path_(path) {
  if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) {
    const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw InputError("cannot open result store '" + path + "': " + msg);
  }
  sqlite3_busy_timeout(db_, 10000);
  try {
    exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
    exec(kSchema);
  } catch (const std::exception& e) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw InputError("'" + path + "' is not a usable result store (" + first_line(e.what()) + ")");
  }
}

Store::~Store() {
  if (db_) sqlite3_close(db_);
}

void Store::exec(const std::string& sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw std::runtime_error("sqlite (" + path_ + "): " + msg);
  }
}

std::optional<std::string> Store::meta(const std::string& key) const {
  Statement st(db_, "SELECT value FROM meta WHERE key = ?");
  st.bind(1, key);
  if (st.step()) return st.text(0);
  return std::nullopt;
}

void Store::set_meta(const std::string& key, const std::string& value) {
  Statement st(db_, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)");
  st.bind(1, key);
  st.bind(2, value);
  st.step();
}

void Store::write_plan(const std::vector<ConfigRow>& configs, const std::vector<ImageRow>& images,
                       const std::vector<UnitRow>& units) {
  exec("BEGIN IMMEDIATE");
  try {
    Statement c(db_, "INSERT OR IGNORE INTO configs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    for (const ConfigRow& r : configs) {
      c.bind(1, r.id);
      c.bind(2, r.family);
      c.bind(3, r.point);
      if (r.point == "grid") {
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
    exec("COMMIT");
  } catch (...) {
    exec("ROLLBACK");
    throw;
  }
}

std::vector<ConfigRow> Store::configs() const {
  std::vector<ConfigRow> out;
  Statement st(
      db_,
      "SELECT id, family, point, i1, i2, param1, param2, spec, config FROM configs ORDER BY id");
  while (st.step())
    out.push_back({st.i64(0), st.text(1), st.text(2), st.null(3) ? -1 : st.i64(3),
                   st.null(4) ? -1 : st.i64(4), st.f64(5), st.f64(6), st.text(7), st.text(8)});
  return out;
}

std::vector<ImageRow> Store::images() const {
  std::vector<ImageRow> out;
  Statement st(db_, "SELECT id, image, label, target FROM images ORDER BY id");
  while (st.step()) out.push_back({st.i64(0), st.text(1), st.i64(2), st.i64(3)});
  return out;
}

std::vector<UnitRow> Store::units() const {
  std::vector<UnitRow> out;
  Statement st(db_, "SELECT id, image_id, family FROM units ORDER BY id");
  while (st.step()) out.push_back({st.i64(0), st.i64(1), st.text(2)});
  return out;
}

std::set<int64_t> Store::done_units() const {
  std::set<int64_t> out;
  Statement st(db_, "SELECT id FROM units WHERE done = 1");
  while (st.step()) out.insert(st.i64(0));
  return out;
}

void Store::write_unit(int64_t unit, const std::vector<CurveRow>& curves) {
  exec("BEGIN IMMEDIATE");
  try {
    Statement c(db_, "INSERT OR REPLACE INTO curves VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    for (const CurveRow& r : curves) {
      c.bind(1, r.config_id);
      c.bind(2, r.image_id);
      c.bind(3, r.order);
      c.bind(4, unit);
      c.bind_blob(5, r.scores.data(), static_cast<int>(r.scores.size() * sizeof(double)));
      c.bind(6, r.auc);
      if (r.auc_normalized)
        c.bind(7, *r.auc_normalized);
      else
        c.bind_null(7);
      c.bind(8, r.aopc);
      c.step();
      c.reset();
    }
    Statement u(db_, "UPDATE units SET done = 1 WHERE id = ?");
    u.bind(1, unit);
    u.step();
    exec("COMMIT");
  } catch (...) {
    exec("ROLLBACK");
    throw;
  }
}

std::vector<CurveRow> Store::curves() const {
  std::vector<CurveRow> out;
  Statement st(db_,
               "SELECT c.config_id, c.image_id, c.ord, c.scores, c.auc, c.auc_normalized, c.aopc "
               "FROM curves c JOIN units u ON u.id = c.unit WHERE u.done = 1 "
               "ORDER BY c.config_id, c.image_id, c.ord");
  while (st.step()) {
    CurveRow r;
    r.config_id = st.i64(0);
    r.image_id = st.i64(1);
    r.order = st.text(2);
    const auto* blob = static_cast<const double*>(sqlite3_column_blob(st.get(), 3));
    const int n = sqlite3_column_bytes(st.get(), 3) / static_cast<int>(sizeof(double));
    r.scores.assign(blob, blob + n);
    r.auc = st.f64(4);
    if (!st.null(5)) r.auc_normalized = st.f64(5);
    r.aopc = st.f64(6);
    out.push_back(std::move(r));
  }
  return out;
}

void Store::merge_from(const std::string& other) {
  Statement at(db_, "ATTACH DATABASE ? AS other");
  at.bind(1, other);
  at.step();
  try {
    exec("BEGIN IMMEDIATE");
    exec(
        "INSERT OR IGNORE INTO curves SELECT c.* FROM other.curves c JOIN other.units u "
        "ON u.id = c.unit WHERE u.done = 1");
    exec("UPDATE units SET done = 1 WHERE id IN (SELECT id FROM other.units WHERE done = 1)");
    exec("COMMIT");
  } catch (...) {
    exec("ROLLBACK");
    exec("DETACH DATABASE other");
    throw;
  }
  exec("DETACH DATABASE other");
}

RunLock::RunLock(const std::string& run_dir) {
  const std::string path = run_dir + "/.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  require(fd_ >= 0, "cannot create lock file '" + path + "'");
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

}  // namespace lrpbench
