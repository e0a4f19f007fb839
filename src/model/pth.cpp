#include "model/pth.h"

#include <ATen/ATen.h>

#include <cstring>

#include "model/archive.h"
#include "util/error.h"
#include "util/file.h"

namespace lrpbench {

StateDict read_pth(const std::string& path) {
  return read_pth_bytes(read_file(path, "--weights", kMaxWeightsBytes), path);
}

StateDict read_pth_bytes(const std::string& bytes, const std::string& path) {
  return read_pth_archive(ZipArchive(bytes, path), path);
}

StateDict read_pth_archive(const ZipArchive& zip, const std::string& /*path*/) {
  StateDict sd;
  for (const TensorRef& t : parse_pth_archive(zip)) {
    const int64_t numel = static_cast<int64_t>(t.storage.size() / dtype_size(t.dtype));
    at::Tensor storage = at::empty({numel}, at::TensorOptions().dtype(scalar_type_of(t.dtype)));
    if (!t.storage.empty()) std::memcpy(storage.data_ptr(), t.storage.data(), t.storage.size());
    sd.emplace_back(t.key, storage.as_strided(t.sizes, t.strides, t.offset).clone());
  }
  return sd;
}

}  // namespace lrpbench
