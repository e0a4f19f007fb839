#include "model/safetensors.h"

#include <ATen/ATen.h>

#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace lrpbench {
namespace {

at::ScalarType dtype_of(const std::string& name, const std::string& path, const std::string& key) {
  static const std::map<std::string, at::ScalarType> table = {
      {"F32", at::kFloat}, {"F64", at::kDouble}, {"F16", at::kHalf},  {"BF16", at::kBFloat16},
      {"I64", at::kLong},  {"I32", at::kInt},    {"I16", at::kShort}, {"I8", at::kChar},
      {"U8", at::kByte},   {"BOOL", at::kBool}};
  auto it = table.find(name);
  require(it != table.end(), path + ": key '" + key + "' has unknown dtype '" + name + "'");
  return it->second;
}

}  // namespace

StateDict read_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  require(in.good(), "cannot open weights file '" + path + "'");
  const int64_t file_size = in.tellg();
  in.seekg(0);
  uint64_t header_len = 0;
  in.read(reinterpret_cast<char*>(&header_len), 8);
  require(in.gcount() == 8 && header_len > 1 && header_len <= static_cast<uint64_t>(file_size) - 8,
          path + ": not a safetensors file (bad header length)");
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  nlohmann::json meta;
  try {
    meta = nlohmann::json::parse(header);
  } catch (const std::exception&) {
    throw InputError(path + ": corrupt safetensors header (invalid JSON)");
  }
  require(meta.is_object(), path + ": corrupt safetensors header");
  const int64_t data_size = file_size - 8 - static_cast<int64_t>(header_len);
  std::vector<std::pair<int64_t, std::string>> order;  // by data offset = file order
  for (auto it = meta.begin(); it != meta.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    require(it.value().is_object() && it.value().contains("data_offsets"),
            path + ": corrupt entry '" + it.key() + "'");
    order.emplace_back(it.value()["data_offsets"][0].get<int64_t>(), it.key());
  }
  std::sort(order.begin(), order.end());
  StateDict sd;
  const int64_t base = 8 + static_cast<int64_t>(header_len);
  for (const auto& [offset, key] : order) {
    const auto& e = meta[key];
    try {
      const at::ScalarType dt = dtype_of(e.at("dtype").get<std::string>(), path, key);
      std::vector<int64_t> shape = e.at("shape").get<std::vector<int64_t>>();
      const int64_t begin = e.at("data_offsets")[0].get<int64_t>();
      const int64_t end = e.at("data_offsets")[1].get<int64_t>();
      require(begin >= 0 && end >= begin && end <= data_size,
              path + ": key '" + key + "' lies past the end of the file (truncated?)");
      at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dt));
      require(static_cast<int64_t>(t.nbytes()) == end - begin,
              path + ": key '" + key + "' has " + std::to_string(end - begin) +
                  " bytes, its shape and dtype need " + std::to_string(t.nbytes()));
      in.seekg(base + begin);
      in.read(static_cast<char*>(t.data_ptr()), end - begin);
      require(in.gcount() == end - begin, path + ": truncated data for key '" + key + "'");
      sd.emplace_back(key, t);
    } catch (const nlohmann::json::exception&) {
      throw InputError(path + ": corrupt safetensors entry '" + key + "'");
    }
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
  std::ofstream out(path, std::ios::binary);
  require(out.good(), "cannot write '" + path + "'");
  const uint64_t len = header.size();
  out.write(reinterpret_cast<const char*>(&len), 8);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  for (const at::Tensor& t : data)
    out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes()));
  require(out.good(), "failed writing '" + path + "'");
}

}  // namespace lrpbench
