#include "model/torchscript.h"

#include <torch/script.h>

#include <map>
#include <sstream>

#include "model/archive.h"
#include "model/pth.h"
#include "util/error.h"
#include "util/file.h"

namespace lrpbench {
namespace {

bool kind_from_type(const std::string& qualified, LayerKind* kind) {
  static const std::map<std::string, LayerKind> table = {
      {"Conv2d", LayerKind::Conv2d},
      {"Linear", LayerKind::Linear},
      {"ReLU", LayerKind::ReLU},
      {"MaxPool2d", LayerKind::MaxPool2d},
      {"AvgPool2d", LayerKind::AvgPool2d},
      {"AdaptiveAvgPool2d", LayerKind::AdaptiveAvgPool2d},
      {"Flatten", LayerKind::Flatten},
      {"Dropout", LayerKind::Dropout},
      {"BatchNorm2d", LayerKind::BatchNorm2d}};
  const auto dot = qualified.rfind('.');
  auto it = table.find(dot == std::string::npos ? qualified : qualified.substr(dot + 1));
  if (it == table.end()) return false;
  *kind = it->second;
  return true;
}

void collect(const torch::jit::Module& m, const std::string& prefix, ScriptedModel& out,
             const std::string& path) {
  bool has_children = false;
  for (const auto& child : m.named_children()) {
    has_children = true;
    collect(child.value, prefix.empty() ? child.name : prefix + "." + child.name, out, path);
  }
  if (has_children || prefix.empty()) return;
  const std::string type = m.type()->name() ? m.type()->name()->qualifiedName() : "?";
  LayerKind kind;
  require(kind_from_type(type, &kind),
          path + ": unsupported layer '" + prefix + "' of type " + type);
  out.leaves.emplace_back(prefix, kind);
}

}  // namespace

ScriptedModel read_torchscript(const std::string& path) {
  return read_torchscript_bytes(read_file(path, "--weights", kMaxWeightsBytes), path);
}

torch::jit::Module load_torchscript_module(const std::string& bytes, const std::string& path) {
  return load_torchscript_module(ZipArchive(bytes, path), bytes, path);
}

torch::jit::Module load_torchscript_module(const ZipArchive& zip, const std::string& bytes,
                                           const std::string& path) {
  check_torchscript_archive(zip);
  try {
    std::istringstream in(bytes);
    return torch::jit::load(in, c10::Device(c10::kCPU));
  } catch (const std::exception& e) {
    throw InputError(path + ": cannot load TorchScript module (" + first_line(e.what()) + ")");
  }
}

ScriptedModel read_torchscript_bytes(const std::string& bytes, const std::string& path) {
  return read_torchscript_module(load_torchscript_module(bytes, path), path);
}

ScriptedModel read_torchscript_module(const torch::jit::Module& module, const std::string& path) {
  ScriptedModel out;
  for (const auto& p : module.named_parameters(true))
    out.state_dict.emplace_back(p.name, p.value.detach());
  for (const auto& b : module.named_buffers(true))
    out.state_dict.emplace_back(b.name, b.value.detach());
  collect(module, "", out, path);
  return out;
}

void check_torchscript_chain(const Network& net, const ScriptedModel& m, const std::string& path) {
  // The modules in registration order: one per layer index (a module applied twice, like a
  // ResNet block's relu, is listed once), ascending.
  std::vector<const Layer*> expected;
  for (int index = 0; index < net.num_indices; ++index) {
    const int pos = net.position_of(index);
    if (pos >= 0) expected.push_back(&net.layers[static_cast<size_t>(pos)]);
  }
  size_t j = 0;
  for (const auto& [name, kind] : m.leaves) {
    if (kind == LayerKind::Flatten) continue;
    require(j < expected.size(), path + ": extra layer '" + name + "' (" + layer_kind_name(kind) +
                                     ") beyond model " + net.arch);
    require(expected[j]->kind == kind, path + ": layer '" + name + "' is " + layer_kind_name(kind) +
                                           ", model " + net.arch + " has " +
                                           layer_kind_name(expected[j]->kind) + " at index " +
                                           std::to_string(expected[j]->index));
    ++j;
  }
  require(j == expected.size(), path + ": module has " + std::to_string(j) + " layers, model " +
                                    net.arch + " has " + std::to_string(expected.size()));
}

}  // namespace lrpbench
