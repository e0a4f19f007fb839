// A zip-format .pth file: the zip container, data.pkl and the state dict's tensor records.
#include "fuzz.h"
#include "model/archive.h"

LRPBENCH_FUZZ({
  const lrpbench::ZipArchive zip(input, "fuzz.pth");
  for (const lrpbench::TensorRef& t : lrpbench::parse_pth_archive(zip)) {
    // Every view must lie inside its storage: touch its first and last element.
    if (t.storage.empty()) continue;
    volatile char first = t.storage.front(), last = t.storage.back();
    (void)first;
    (void)last;
  }
})
