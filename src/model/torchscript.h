#pragma once
#include <string>
#include <vector>

#include "model/network.h"
#include "model/state_dict.h"
#include "util/zip.h"

namespace torch::jit {
struct Module;
}

namespace lrpbench {

// The TorchScript module in the file's bytes, loaded on the CPU after our own archive checks
// (LibTorch only sees archives whose records and storages are sound); errors name the file.
torch::jit::Module load_torchscript_module(const std::string& bytes, const std::string& path);
// The same with the archive's directory already parsed (model/formats.h).
torch::jit::Module load_torchscript_module(const ZipArchive& zip, const std::string& bytes,
                                           const std::string& path);

struct ScriptedModel {
  StateDict state_dict;
  // Leaf modules in definition order: (qualified name, kind), e.g. ("features.0", Conv2d).
  std::vector<std::pair<std::string, LayerKind>> leaves;
};

// Loads a TorchScript module (torch.jit.save); errors name the file and any unsupported
// leaf module.
ScriptedModel read_torchscript(const std::string& path);
// The same from the file's bytes (the container is checked before LibTorch reads it).
ScriptedModel read_torchscript_bytes(const std::string& bytes, const std::string& path);
// The same from a loaded module.
ScriptedModel read_torchscript_module(const torch::jit::Module& module, const std::string& path);

// Checks that the scripted leaves form the network's sequential chain (same kinds, same
// order, Flatten aside); throws InputError naming the first mismatch.
void check_torchscript_chain(const Network& net, const ScriptedModel& m, const std::string& path);

}  // namespace lrpbench
