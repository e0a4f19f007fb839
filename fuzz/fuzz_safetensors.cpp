// A .safetensors file: header length, JSON header, every tensor inside the data, no overlap.
#include "fuzz.h"
#include "model/safetensors_header.h"

LRPBENCH_FUZZ({
  const lrpbench::SafetensorsLayout l = lrpbench::parse_safetensors(input, "fuzz.safetensors");
  uint64_t previous_end = 0;
  for (const lrpbench::SafetensorsEntry& e : l.entries) {
    if (e.begin < previous_end || l.data_start + e.end > input.size()) __builtin_trap();
    previous_end = e.end;
  }
})
