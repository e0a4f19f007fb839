// The (Fashion-)MNIST idx image and label files.
#include "fuzz.h"
#include "data/idx.h"

LRPBENCH_FUZZ({
  try {
    const lrpbench::IdxImages im = lrpbench::parse_idx_images(input, "fuzz-images-idx3");
    if (static_cast<uint64_t>(im.count * im.rows * im.cols) != im.pixels.size()) __builtin_trap();
  } catch (const lrpbench::InputError&) {
  }
  lrpbench::parse_idx_labels(input, "fuzz-labels-idx1");
})
