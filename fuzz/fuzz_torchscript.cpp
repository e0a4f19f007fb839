// The checks a TorchScript archive passes before LibTorch reads it.
#include "fuzz.h"
#include "model/archive.h"

LRPBENCH_FUZZ({
  const lrpbench::ZipArchive zip(input, "fuzz.pt");
  if (lrpbench::is_torchscript_archive(zip)) lrpbench::check_torchscript_archive(zip);
})
