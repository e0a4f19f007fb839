// A .npy file: magic, header dict, shape, and data that matches it exactly.
#include "fuzz.h"
#include "util/npy_header.h"

LRPBENCH_FUZZ({
  const lrpbench::NpyLayout l = lrpbench::parse_npy(input, "fuzz.npy");
  const uint64_t bytes = static_cast<uint64_t>(l.numel) * (l.float64 ? 8 : 4);
  if (l.data_start + bytes != input.size()) __builtin_trap();
})
