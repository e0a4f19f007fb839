#include "model/safetensors.h"

#include <ATen/ATen.h>

#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "model/pth.h"
#include "model/safetensors_header.h"
#include "util/error.h"
#include "util/file.h"

namespace lrpbench {

StateDict read_safetensors(const std::string& path) {
  return read_safetensors_bytes(read_file(path, "--weights", kMaxWeightsBytes), path);
}

StateDict read_safetensors_bytes(const std::string& bytes, const std::string& path) {
  const SafetensorsLayout layout = parse_safetensors(bytes, path);
  StateDict sd;
  for (const SafetensorsEntry& e : layout.entries) {
    at::Tensor t = at::empty(e.shape, at::TensorOptions().dtype(scalar_type_of(e.dtype)));
    if (e.end > e.begin)
      std::memcpy(t.data_ptr(), bytes.data() + layout.data_start + e.begin, e.end - e.begin);
    sd.emplace_back(e.key, t);
  }
  return sd;
}

void write_safetensors(const std::string& path, const StateDict& sd) {
  nlohmann::json meta = nlohmann::json::object();
  int64_t offset = 0;
  std::vector<at::Tensor> data;
  for (const auto& [key, value] : sd) {
    at::Tensor t = value.detach().to(at::kCPU).to(at::kFloat).contiguous();
    const int64_t n = static_cast<int64_t>(t.nbytes());
    meta[key] = {
        {"dtype", "F32"}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + n}}};
    offset += n;
    data.push_back(t);
  }
  std::string header = meta.dump();
  header.append((8 - header.size() % 8) % 8, ' ');
  const uint64_t len = header.size();
  std::string bytes(reinterpret_cast<const char*>(&len), 8);
  bytes += header;
  for (const at::Tensor& t : data)
    bytes.append(static_cast<const char*>(t.data_ptr()), t.nbytes());
  write_file_atomic(path, bytes);
}

}  // namespace lrpbench
