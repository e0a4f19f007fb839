#include "helpers.h"

#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>

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

}  // namespace lrpbench::test
