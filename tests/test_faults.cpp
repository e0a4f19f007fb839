// The store under faults: SIGKILL at random moments, a full disk, a report of a run that is
// being written, and stores that are truncated, corrupt or tampered with.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "helpers.h"
#include "search/store.h"

extern char** environ;

namespace lrpbench {
namespace {

namespace fs = std::filesystem;

// 8 images x (tutorial, decreasing-gamma, reference) = 24 work units.
const std::string kExperiment = test::small_experiment(8);

std::string tmp(const std::string& name) {
  return ::testing::TempDir() + "/lrpbench_faults_" + std::to_string(getpid()) + "_" + name;
}

std::string experiment_file() {
  static const std::string path = [] {
    const std::string p = tmp("experiment.toml");
    std::ofstream(p) << kExperiment;
    return p;
  }();
  return path;
}

std::string search_cmd(const std::string& run) {
  return test::binary() + " search " + experiment_file() + " --out " + run + " --threads 2";
}

std::string fresh(const std::string& name) {
  const std::string run = tmp(name);
  fs::remove_all(run);
  return run;
}

std::string dump(const std::string& run) {
  const Store s(run + "/results.sqlite", Store::Mode::Read, "");
  return s.dump();
}

// The uninterrupted run every faulty one must equal, and how long it took.
const std::string& reference_run(double* seconds = nullptr) {
  static double took = 0;
  static const std::string run = [] {
    const std::string r = fresh("reference");
    const auto t0 = std::chrono::steady_clock::now();
    std::string err;
    EXPECT_EQ(test::run_command(search_cmd(r), &err), 0) << err;
    took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
  }();
  if (seconds) *seconds = took;
  return run;
}

pid_t spawn(const std::string& cmd) {
  pid_t pid;
  const char* argv[] = {"/bin/sh", "-c", cmd.c_str(), nullptr};
  posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ);
  return pid;
}

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

size_t count_prefix(const std::vector<std::string>& lines, const std::string& prefix) {
  size_t n = 0;
  for (const auto& l : lines) n += l.rfind(prefix, 0) == 0;
  return n;
}

TEST(Faults, SigkillAtTwentyRandomMomentsThenResumeEqualsUninterruptedRun) {
  double seconds = 0;
  const std::string expected = dump(reference_run(&seconds));
  const double unit_seconds = seconds / 24;
  const std::string run = fresh("killed");
  const std::string trace = tmp("killed.trace");
  fs::remove(trace);
  std::mt19937_64 rng(20261127);
  int inside = 0, startup = 0, finished = 0;
  for (int k = 0; k < 20; ++k) {
    const size_t begun = count_prefix(lines_of(trace), "begin");
    // exec: the shell becomes lrpbench, so SIGKILL reaches the search itself.
    const pid_t pid =
        spawn("LRPBENCH_TRACE_UNITS=" + trace + " exec " + search_cmd(run) + " > /dev/null 2>&1");
    int status = 0;
    bool exited = false;
    const auto start = std::chrono::steady_clock::now();
    auto wait_for = [&](double s) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(s);
      while (!exited && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        exited = waitpid(pid, &status, WNOHANG) == pid;
      }
    };
    if (k % 4 == 0) {
      // A moment of start-up: model, data, plan, store.
      wait_for(std::uniform_real_distribution<double>(0.0, 1.0)(rng));
    } else {
      // A moment inside the first unit this process computes (unit_seconds includes the
      // reference run's start-up, so it overestimates a unit: a longer wait lets processes
      // finish several units, and the store completes before twenty kills on an idle machine).
      while (!exited && count_prefix(lines_of(trace), "begin") == begun &&
             std::chrono::steady_clock::now() - start < std::chrono::seconds(60))
        wait_for(0.002);
      wait_for(std::uniform_real_distribution<double>(0.0, 0.5 * unit_seconds)(rng));
    }
    if (!exited) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      const auto l = lines_of(trace);
      if (!l.empty() && l.back().rfind("begin", 0) == 0 && count_prefix(l, "begin") > begun)
        ++inside;
      else
        ++startup;
    } else {
      ++finished;
    }
  }
  EXPECT_GE(inside, 10) << "kills inside a unit: " << inside << ", elsewhere " << startup
                        << ", runs that finished " << finished;
  std::string err;
  ASSERT_EQ(test::run_command(search_cmd(run), &err), 0) << err;
  EXPECT_EQ(dump(run), expected);
}

TEST(Faults, FullDiskRollsTheUnitBackAndResumeCompletes) {
  const std::string expected = dump(reference_run());
  bool failed_midway = false;
  // Find a file-size limit that the store outgrows in the middle of the run.
  for (int kib : {48, 64, 96, 128, 192, 256, 384}) {
    const std::string run = fresh("full_" + std::to_string(kib));
    std::string err;
    const int code = test::run_command(
        "bash -c 'ulimit -f " + std::to_string(kib) + "; exec " + search_cmd(run) + "'", &err);
    if (code == 0) break;  // the limit was never reached
    ASSERT_EQ(code, 1) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_NE(err.find(run + "/results.sqlite"), std::string::npos) << err;
    EXPECT_EQ(err.find("cannot rollback"), std::string::npos) << err;
    if (!fs::exists(run + "/results.sqlite")) continue;  // the plan itself did not fit
    const size_t done = Store(run + "/results.sqlite", Store::Mode::Read, "").done_units().size();
    if (done == 0 || done >= 24) continue;
    EXPECT_NE(err.find("rolled back"), std::string::npos) << err;
    failed_midway = true;
    ASSERT_EQ(test::run_command(search_cmd(run), &err), 0) << err;
    EXPECT_EQ(dump(run), expected);
    break;
  }
  EXPECT_TRUE(failed_midway) << "no limit made the store full in the middle of the run";
}

// Groups of rows in aucs.csv: (image, family or reference) -> rows.
std::map<std::string, int> unit_groups(const std::string& csv) {
  std::map<std::string, int> groups;
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string x; std::getline(ss, x, ',');) f.push_back(x);
    // family,point,config,param1,param2,image,order,auc (configs hold no commas here)
    if (f.size() >= 7) ++groups[f[5] + "/" + (f[1] == "reference" ? "reference" : f[0])];
  }
  return groups;
}

TEST(Faults, ReportOfARunBeingWrittenReadsOneConsistentSnapshot) {
  const std::string run = fresh("live");
  const pid_t pid = spawn("exec " + search_cmd(run) + " > /dev/null 2>&1");
  int reports = 0, live = 0;
  int status = 0;
  bool exited = false;
  while (!exited) {
    std::string err;
    const int code = test::run_command(test::binary() + " report " + run + " --threads 1", &err);
    exited = waitpid(pid, &status, WNOHANG) == pid;
    if (code == 2) continue;  // no store or no finished unit yet
    ASSERT_EQ(code, 0) << err;
    ++reports;
    if (err.find("still writing") != std::string::npos) ++live;
    // Every unit in the snapshot is whole: 27 curves per family unit, 9 per reference unit.
    const auto groups = unit_groups(run + "/aucs.csv");
    for (const auto& [key, n] : groups)
      EXPECT_EQ(n, key.find("/reference") != std::string::npos ? 9 : 27) << key;
    std::ifstream html(run + "/report/index.html");
    const std::string page((std::istreambuf_iterator<char>(html)), std::istreambuf_iterator<char>());
    EXPECT_NE(page.find(std::to_string(groups.size()) + " of 24 work units done"), std::string::npos)
        << groups.size();
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_GE(live, 1) << "no report ran while the search was writing (" << reports << " reports)";
}

// --- Stores that are damaged or tampered with -------------------------------------------

std::string copy_run(const std::string& name) {
  const std::string run = fresh(name);
  fs::create_directories(run);
  // A consistent copy: SQLite's own backup of the reference store.
  sqlite3 *src = nullptr, *dst = nullptr;
  sqlite3_open((reference_run() + "/results.sqlite").c_str(), &src);
  sqlite3_open((run + "/results.sqlite").c_str(), &dst);
  sqlite3_backup* b = sqlite3_backup_init(dst, "main", src, "main");
  sqlite3_backup_step(b, -1);
  sqlite3_backup_finish(b);
  sqlite3_close(src);
  sqlite3_close(dst);
  return run;
}

void sql(const std::string& run, const std::string& statement) {
  sqlite3* db = nullptr;
  sqlite3_open((run + "/results.sqlite").c_str(), &db);
  char* err = nullptr;
  ASSERT_EQ(sqlite3_exec(db, statement.c_str(), nullptr, nullptr, &err), SQLITE_OK)
      << (err ? err : "");
  sqlite3_close(db);
}

void expect_refused(const std::string& run, const std::string& needle) {
  for (const std::string& cmd :
       {test::binary() + " report " + run, test::binary() + " merge " + run + " --out " + run + "_m",
        search_cmd(run), test::binary() + " dump " + run}) {
    std::string err;
    EXPECT_EQ(test::run_command(cmd, &err), 2) << cmd << "\n" << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << cmd << "\n" << err;
    EXPECT_NE(err.find(run + "/results.sqlite"), std::string::npos) << cmd << "\n" << err;
    EXPECT_NE(err.find(needle), std::string::npos) << cmd << "\n" << err;
  }
  // The search names the way out, and --force takes it.
  std::string err;
  test::run_command(search_cmd(run), &err);
  EXPECT_NE(err.find("--force"), std::string::npos) << err;
}

TEST(Faults, DamagedStoresAreRefusedWithTheWayOut) {
  const std::string expected = dump(reference_run());
  {
    const std::string run = copy_run("truncated");
    fs::resize_file(run + "/results.sqlite", fs::file_size(run + "/results.sqlite") / 2);
    expect_refused(run, "not a usable result store");
  }
  {
    const std::string run = copy_run("not_sqlite");
    std::ofstream(run + "/results.sqlite") << "this is a text file, not a database\n";
    expect_refused(run, "not an SQLite database");
  }
  {
    const std::string run = copy_run("garbled");
    // Garbage over the header of every page but the first.
    const auto size = fs::file_size(run + "/results.sqlite");
    std::fstream f(run + "/results.sqlite", std::ios::in | std::ios::out | std::ios::binary);
    for (uintmax_t page = 4096; page < size; page += 4096) {
      f.seekp(static_cast<std::streamoff>(page));
      for (int i = 0; i < 12; ++i) f.put(static_cast<char>(0xA5 + i * 37));
    }
    f.close();
    expect_refused(run, "not a usable result store");
  }
  const std::vector<std::pair<std::string, std::string>> tamper = {
      {"DROP TABLE configs", "table 'configs' is missing"},
      {"DROP TABLE curves", "table 'curves' is missing"},
      {"DELETE FROM configs WHERE id = 3", "configuration"},
      {"UPDATE curves SET config_id = 999 WHERE rowid = 1", "configurations that do not exist"},
      {"UPDATE curves SET unit = 999 WHERE rowid = 1", "work units that do not exist"},
      {"UPDATE meta SET value = '{not json' WHERE key = 'definition'", "not valid JSON"},
      {"DELETE FROM meta WHERE key = 'definition'", "no run definition"},
      {"UPDATE curves SET auc = 'nan' WHERE rowid = 1", "malformed scores or non-finite"},
      {"UPDATE curves SET auc = 9e999 WHERE rowid = 1", "malformed scores or non-finite"},
      {"UPDATE curves SET scores = x'0102' WHERE rowid = 1", "malformed scores or non-finite"},
  };
  int k = 0;
  for (const auto& [statement, needle] : tamper) {
    const std::string run = copy_run("tampered" + std::to_string(k++));
    sql(run, statement);
    SCOPED_TRACE(statement);
    expect_refused(run, needle);
  }
  // --force replaces a damaged store and recomputes it exactly.
  const std::string run = copy_run("forced");
  sql(run, "DROP TABLE curves");
  std::string err;
  ASSERT_EQ(test::run_command(search_cmd(run) + " --force", &err), 0) << err;
  EXPECT_EQ(dump(run), expected);
}

TEST(Faults, StoreKilledWhileBeingCreatedIsCreatedAgain) {
  // What a SIGKILL between opening a new database and committing its schema leaves behind:
  // a WAL-mode SQLite file without tables. Resuming creates the store; no --force needed.
  const std::string run = fresh("shell");
  fs::create_directories(run);
  sqlite3* db = nullptr;
  sqlite3_open((run + "/results.sqlite").c_str(), &db);
  sqlite3_exec(db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  ASSERT_GT(fs::file_size(run + "/results.sqlite"), 0u);
  std::string err;
  ASSERT_EQ(test::run_command(search_cmd(run), &err), 0) << err;
  EXPECT_EQ(dump(run), dump(reference_run()));
}

TEST(Faults, FailedValidationLeavesNoStoreBehind) {
  const std::string run = fresh("invalid");
  const std::string bad = tmp("bad.toml");
  std::string text = kExperiment;
  text.replace(text.find("\"zero\"]"), 7, "\"zero\", \"tutorial(0.1,\"]");
  std::ofstream(bad) << text;
  std::string err;
  EXPECT_EQ(test::run_command(test::binary() + " search " + bad + " --out " + run, &err), 2);
  EXPECT_NE(err.find("position"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(run + "/results.sqlite"));
  EXPECT_FALSE(fs::exists(run));
  // The corrected experiment then runs without --force.
  EXPECT_EQ(test::run_command(search_cmd(run) + " --max-units 1", &err), 0) << err;
}

TEST(Faults, ReportAndMergeSayARunIsIncomplete) {
  const std::string run = fresh("partial");
  std::string err;
  ASSERT_EQ(test::run_command(search_cmd(run) + " --max-units 5", &err), 0) << err;
  ASSERT_EQ(test::run_command(test::binary() + " report " + run, &err), 0) << err;
  EXPECT_NE(err.find("5 of 24 work units done"), std::string::npos) << err;
  const std::string merged = fresh("partial_merged");
  ASSERT_EQ(test::run_command(test::binary() + " merge " + run + " --out " + merged, &err), 0)
      << err;
  EXPECT_NE(err.find("incomplete"), std::string::npos) << err;
}

}  // namespace
}  // namespace lrpbench
