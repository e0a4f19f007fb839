// A results.sqlite given by a stranger: opened with every check, read in full, dumped, and its
// definition read back as an experiment.
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "fuzz.h"
#include "search/experiment.h"
#include "search/store.h"

LRPBENCH_FUZZ({
  static const std::string path =
      (access("/dev/shm", W_OK) == 0 ? std::string("/dev/shm") : std::string("/tmp")) +
      "/lrpbench_fuzz_store_" + std::to_string(getpid()) + ".sqlite";
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path + suffix).c_str());
  std::ofstream(path, std::ios::binary).write(input.data(), static_cast<std::streamsize>(input.size()));
  {
    const lrpbench::Store s(path, lrpbench::Store::Mode::Read, "fuzz");
    s.configs();
    s.images();
    s.units();
    s.done_units();
    s.curves();
    s.dump();
    lrpbench::experiment_from_definition(nlohmann::json::parse(*s.meta("definition")), path);
  }
})
