#include "model/safetensors_header.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "util/bytes.h"
#include "util/error.h"

namespace lrpbench {
namespace {

constexpr uint64_t kMaxHeader = 100ull << 20;
constexpr size_t kMaxDims = 16;
constexpr int64_t kMaxNumel = int64_t(1) << 40;

bool dtype_of(const std::string& name, DType* out) {
  static const std::map<std::string, DType> table = {
      {"F32", DType::Float32}, {"F64", DType::Float64}, {"F16", DType::Float16},
      {"BF16", DType::BFloat16}, {"I64", DType::Int64}, {"I32", DType::Int32},
      {"I16", DType::Int16},   {"I8", DType::Int8},     {"U8", DType::UInt8},
      {"BOOL", DType::Bool}};
  auto it = table.find(name);
  if (it == table.end()) return false;
  *out = it->second;
  return true;
}

}  // namespace

SafetensorsLayout parse_safetensors(std::string_view file, const std::string& what) {
  require(file.size() >= 8, what + ": not a safetensors file (shorter than its header length)");
  const uint64_t header_len = read_le(file, 0, 8);
  require(header_len >= 2 && header_len <= file.size() - 8 && header_len <= kMaxHeader,
          what + ": not a safetensors file (bad header length)");
  const std::string_view header = file.substr(8, static_cast<size_t>(header_len));
  std::set<std::string> seen;
  bool duplicate = false;
  std::string duplicate_key;
  const nlohmann::json::parser_callback_t cb = [&](int depth, nlohmann::json::parse_event_t event,
                                                   nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::key && depth == 1 && parsed.is_string() &&
        !seen.insert(parsed.get<std::string>()).second && !duplicate) {
      duplicate = true;
      duplicate_key = parsed.get<std::string>();
    }
    return true;
  };
  nlohmann::json meta;
  try {
    meta = nlohmann::json::parse(header.begin(), header.end(), cb);
  } catch (const nlohmann::json::exception&) {
    throw InputError(what + ": corrupt safetensors header (invalid JSON)");
  }
  require(meta.is_object(), what + ": corrupt safetensors header (not a JSON object)");
  require(!duplicate, what + ": safetensors header names key '" + duplicate_key + "' twice");
  SafetensorsLayout out;
  out.data_start = 8 + header_len;
  const uint64_t data_size = file.size() - out.data_start;
  for (auto it = meta.begin(); it != meta.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const std::string& key = it.key();
    const nlohmann::json& e = it.value();
    const std::string bad = what + ": corrupt safetensors entry '" + key + "'";
    require(e.is_object() && e.contains("dtype") && e.contains("shape") &&
                e.contains("data_offsets") && e.size() == 3,
            bad + " (expected dtype, shape and data_offsets)");
    SafetensorsEntry s;
    s.key = key;
    require(e["dtype"].is_string(), bad + " (dtype)");
    require(dtype_of(e["dtype"].get<std::string>(), &s.dtype),
            what + ": key '" + key + "' has unknown dtype '" + e["dtype"].get<std::string>() + "'");
    const nlohmann::json& shape = e["shape"];
    require(shape.is_array() && shape.size() <= kMaxDims, bad + " (shape)");
    for (const auto& d : shape) {
      require(d.is_number_unsigned() || (d.is_number_integer() && d.get<int64_t>() >= 0),
              what + ": key '" + key + "' has a negative or non-integer dimension");
      require(d.get<uint64_t>() <= static_cast<uint64_t>(kMaxNumel),
              what + ": key '" + key + "' has an implausibly large dimension");
      s.shape.push_back(d.get<int64_t>());
    }
    const nlohmann::json& off = e["data_offsets"];
    require(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() &&
                off[1].is_number_unsigned(),
            what + ": key '" + key + "' has data_offsets that are not two non-negative integers");
    s.begin = off[0].get<uint64_t>();
    s.end = off[1].get<uint64_t>();
    int64_t numel = 0;
    require(checked_numel(s.shape.data(), s.shape.size(), kMaxNumel, &numel),
            what + ": key '" + key + "' has a shape whose size overflows");
    require(s.begin <= s.end && s.end <= data_size,
            what + ": key '" + key + "' lies past the end of the file (truncated?)");
    const uint64_t need = static_cast<uint64_t>(numel) * dtype_size(s.dtype);
    require(s.end - s.begin == need, what + ": key '" + key + "' has " +
                                         std::to_string(s.end - s.begin) +
                                         " bytes, its shape and dtype need " + std::to_string(need));
    out.entries.push_back(std::move(s));
  }
  std::sort(out.entries.begin(), out.entries.end(),
            [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
              return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
            });
  for (size_t i = 1; i < out.entries.size(); ++i)
    require(out.entries[i].begin >= out.entries[i - 1].end,
            what + ": keys '" + out.entries[i - 1].key + "' and '" + out.entries[i].key +
                "' overlap in the data section");
  return out;
}

}  // namespace lrpbench
