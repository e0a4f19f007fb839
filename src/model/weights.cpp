#include "model/weights.h"

#include <cstdlib>
#include <cstring>

#include "model/architectures.h"
#include "model/pth.h"
#include "model/safetensors.h"
#include "model/torchscript.h"
#include "model/archive.h"
#include "util/error.h"
#include "util/file.h"

namespace lrpbench {

std::string shipped_checkpoint(const std::string& arch) {
  const char* env = std::getenv("LRPBENCH_MODELS");
  const std::string dir = env && *env ? env : std::string(LRPBENCH_SOURCE_DIR) + "/models";
  return dir + "/" + arch + ".safetensors";
}

void load_weights(Network& net, const std::string& path) {
  const std::string bytes = read_file(path, "--weights", kMaxWeightsBytes);
  require(bytes.size() >= 8, path + ": file too short to hold weights (truncated?)");
  if (bytes.compare(0, 4, "PK\x03\x04") == 0) {
    // A zip: TorchScript archives carry code/ and constants.pkl besides data.pkl.
    if (is_torchscript_archive(ZipArchive(bytes, path))) {
      const ScriptedModel m = read_torchscript_bytes(bytes, path);
      check_torchscript_chain(net, m, path);
      load_state_dict(net, m.state_dict, path);
    } else {
      load_state_dict(net, read_pth_bytes(bytes, path), path);
    }
    return;
  }
  const auto first = static_cast<uint8_t>(bytes[0]);
  if (first == 0x80 || first == 0x8a)
    throw InputError(path +
                     ": legacy (pre-zip) PyTorch format; convert it with "
                     "tools/convert_weights.py (Debian's python3-torch)");
  if (bytes.size() >= 9 && bytes[8] == '{') {
    load_state_dict(net, read_safetensors_bytes(bytes, path), path);
    return;
  }
  throw InputError(path +
                   ": unknown weights format (expected .safetensors, a zip-format .pth "
                   "or a TorchScript module)");
}

LoadedModel load_model(const std::string& arch, const std::string& weights, uint64_t seed) {
  LoadedModel m{build_architecture(arch), weights, false};
  if (!weights.empty()) {
    load_weights(m.net, weights);
  } else if (is_embedded_model(arch)) {
    m.weights = shipped_checkpoint(arch);
    load_weights(m.net, m.weights);
  } else {
    init_random(m.net, seed);
    m.weights = "random(" + std::to_string(seed) + ")";
    m.random = true;
  }
  return m;
}

}  // namespace lrpbench
