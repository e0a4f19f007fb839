#include "util/threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <thread>

namespace lrpbench {

int hardware_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

void set_threads(int n) {
  at::set_num_threads(n <= 0 ? hardware_threads() : n);
  // OpenBLAS (Debian's BLAS under LibTorch) sizes its own thread pool by the CPUs the process
  // may run on, and its threaded matrix-vector products sum in another order: a search rank
  // that Open MPI binds to one core would compute other last bits than a free process. One
  // BLAS thread makes results independent of where a process runs; LibTorch parallelises
  // above BLAS anyway. (Absent with other BLAS libraries: nothing to do then.)
  using SetThreads = void (*)(int);
  if (auto f = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
    f(1);
}

}  // namespace lrpbench
