// The zip reader: the central directory, then every entry read (stored or inflated) under a
// small bound.
#include "fuzz.h"
#include "util/zip.h"

LRPBENCH_FUZZ({
  const lrpbench::ZipArchive zip(input, "fuzz.zip", 1 << 20);
  for (const lrpbench::ZipEntry& e : zip.entries()) {
    try {
      const std::string data = zip.read(e);
      if (data.size() != e.size) __builtin_trap();
    } catch (const lrpbench::InputError&) {
    }
  }
})
