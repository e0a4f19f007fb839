#include "util/threads.h"

#include <ATen/Parallel.h>

#include <thread>

namespace lrpbench {

int hardware_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

void set_threads(int n) {
  at::set_num_threads(n <= 0 ? hardware_threads() : n);
}

}  // namespace lrpbench
