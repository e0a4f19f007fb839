// ImageNet's LOC_val_solution.csv: the labels and the boxes, each parser on its own.
#include "data/loc_csv.h"
#include "fuzz.h"

LRPBENCH_FUZZ({
  try {
    for (const auto& [id, boxes] : lrpbench::parse_loc_boxes(input, "fuzz.csv"))
      for (const lrpbench::LocBox& b : boxes)
        if (b.cls < 0 || b.cls >= 1000 || !(b.x1 <= b.x2) || !(b.y1 <= b.y2)) __builtin_trap();
  } catch (const lrpbench::InputError& e) {
    const std::string msg = e.what();
    if (msg.empty() || lrpbench::one_line(msg).find('\n') != std::string::npos) __builtin_trap();
  }
  for (const auto& [id, label] : lrpbench::parse_loc_csv(input, "fuzz.csv"))
    if (label < 0 || label >= 1000 || id.empty()) __builtin_trap();
})
