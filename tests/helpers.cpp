#include "helpers.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <thread>
#include <fstream>
#include <sstream>

extern char** environ;

namespace lrpbench::test {

int run_command(const std::string& cmd, std::string* err) {
  const std::string errfile = "/tmp/lrpbench_test_stderr_" + std::to_string(::getpid());
  const int status = std::system((cmd + " > /dev/null 2> " + errfile).c_str());
  std::ifstream in(errfile);
  std::stringstream ss;
  ss << in.rdbuf();
  if (err) *err = ss.str();
  std::remove(errfile.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Starts `cmd` with a unit trace and SIGKILLs it once it has begun work unit `unit`; returns
// whether the kill landed while it ran (not after it exited).
bool kill_inside_unit(const std::string& cmd, int64_t unit) {
  const std::string trace = "/tmp/lrpbench_test_trace_" + std::to_string(::getpid());
  std::filesystem::remove(trace);
  const std::string line = "exec env LRPBENCH_TRACE_UNITS=" + trace + " " + cmd + " > /dev/null 2>&1";
  pid_t pid;
  const char* argv[] = {"/bin/sh", "-c", line.c_str(), nullptr};
  posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ);
  const std::string begin = "begin " + std::to_string(unit) + "\n";
  const auto start = std::chrono::steady_clock::now();
  int status = 0;
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(120)) {
    if (waitpid(pid, &status, WNOHANG) == pid) return false;
    std::ifstream in(trace);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find(begin) != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

}  // namespace lrpbench::test
