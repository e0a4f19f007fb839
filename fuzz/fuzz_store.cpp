// A results.sqlite given by a stranger: opened the way every command opens a store (every
// check, its definition read back through the experiment reader, its rows against it), then
// read in full and dumped.
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "fuzz.h"
#include "search/experiment.h"
#include "search/store.h"
#include "search/stored_run.h"

LRPBENCH_FUZZ({
  static const std::string path =
      (access("/dev/shm", W_OK) == 0 ? std::string("/dev/shm") : std::string("/tmp")) +
      "/lrpbench_fuzz_store_" + std::to_string(getpid()) + ".sqlite";
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path + suffix).c_str());
  std::ofstream(path, std::ios::binary).write(input.data(), static_cast<std::streamsize>(input.size()));
  {
    const lrpbench::StoredRun run =
        lrpbench::open_stored_run(path, lrpbench::Store::Mode::Read, "fuzz");
    const lrpbench::Store& s = *run.store;
    s.configs();
    s.images();
    s.units();
    s.done_units();
    s.curves();
    s.metric_values();
    s.dump();
  }
})
