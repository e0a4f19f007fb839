#pragma once
#include <string>

#include "model/state_dict.h"

namespace lrpbench {

// Reads a .safetensors file (8-byte little-endian header length, JSON header, raw data).
StateDict read_safetensors(const std::string& path);
// The same from the file's bytes; `path` names it in errors.
StateDict read_safetensors_bytes(const std::string& bytes, const std::string& path);
// Writes float32 tensors as a .safetensors file.
void write_safetensors(const std::string& path, const StateDict& sd);

}  // namespace lrpbench
