// ImageNet's LOC_val_solution.csv.
#include "data/loc_csv.h"
#include "fuzz.h"

LRPBENCH_FUZZ({
  for (const auto& [id, label] : lrpbench::parse_loc_csv(input, "fuzz.csv"))
    if (label < 0 || label >= 1000 || id.empty()) __builtin_trap();
})
