#include "model/formats.h"

#include <ATen/ATen.h>
#include <torch/script.h>

#include "model/archive.h"
#include "model/pth.h"
#include "model/safetensors.h"
#include "model/state_dict.h"
#include "model/torchscript.h"
#include "model/torchscript_graph.h"
#include "model/torchscript_vit.h"
#ifdef LRPBENCH_WITH_ONNX
#include "model/onnx_graph.h"
#include "model/onnx_spec.h"
#endif
#include "util/error.h"
#include "util/file.h"

namespace lrpbench {

OpenedFile::OpenedFile(const std::string& path, const std::string& what)
    : path_(path), bytes_(read_file(path, what, kMaxWeightsBytes)) {
  // (22 bytes: a zip's smallest end record; shorter files are left to the readers' own checks)
  if (bytes_.size() >= 22 && bytes_.compare(0, 4, "PK\x03\x04") == 0) zip_.emplace(bytes_, path_);
}

namespace {

// --- TorchScript: torch.jit.save archives (constants.pkl and code/ beside data.pkl) ---------

bool is_torchscript(const OpenedFile& f) { return f.zip() && is_torchscript_archive(*f.zip()); }

// A torchvision ViT (by its parameters) is read by its layout and verified against its own
// forward; anything else by following its graph.
Network torchscript_model(const OpenedFile& f) {
  const torch::jit::Module module = load_torchscript_module(*f.zip(), f.bytes(), f.path());
  if (is_torchscript_vit(module)) return read_torchscript_vit(module, f.path());
  Network net = read_torchscript_graph(module, f.path());
  net.in_channels = 0;  // the graph's first conv or dense layer's
  for (const Layer& l : net.layers)
    if (l.kind == LayerKind::Conv2d || l.kind == LayerKind::Linear) {
      net.in_channels = l.in_channels;
      break;
    }
  return net;
}

void torchscript_weights(Network& net, const OpenedFile& f) {
  const torch::jit::Module module = load_torchscript_module(*f.zip(), f.bytes(), f.path());
  if (has_own_rule_kinds(net)) {  // a transformer: its parameters by name
    StateDict sd;
    for (const auto& p : module.named_parameters(true)) sd.emplace_back(p.name, p.value);
    load_state_dict(net, sd, f.path());
    return;
  }
  const ScriptedModel m = read_torchscript_module(module, f.path());
  check_torchscript_chain(net, m, f.path());
  load_state_dict(net, m.state_dict, f.path());
}

// --- torch.save archives (a state dict) ------------------------------------------------------

bool is_pth(const OpenedFile& f) { return f.zip() && !is_torchscript_archive(*f.zip()); }

void pth_weights(Network& net, const OpenedFile& f) {
  load_state_dict(net, read_pth_archive(*f.zip(), f.path()), f.path());
}

// --- safetensors: an 8-byte header length (any first byte), then a JSON header ---------------

bool is_safetensors(const OpenedFile& f) {
  const std::string& b = f.bytes();
  if (f.zip() || b.size() < 10 || b[8] != '{') return false;
  uint64_t header = 0;  // little-endian: the JSON header's length, within the file
  for (int k = 7; k >= 0; --k) header = (header << 8) | static_cast<uint8_t>(b[static_cast<size_t>(k)]);
  return header >= 2 && header <= b.size() - 8;
}

void safetensors_weights(Network& net, const OpenedFile& f) {
  load_state_dict(net, read_safetensors_bytes(f.bytes(), f.path()), f.path());
}

// --- legacy (pre-zip) torch.save pickles: refused with the way out --------------------------

bool is_legacy_pickle(const OpenedFile& f) {
  if (f.zip() || f.bytes().empty()) return false;
  const auto first = static_cast<uint8_t>(f.bytes()[0]);
  return first == 0x80 || first == 0x8a;
}

// --- ONNX ------------------------------------------------------------------------------------

#ifdef LRPBENCH_WITH_ONNX
bool is_onnx(const OpenedFile& f) { return !f.zip() && looks_like_onnx(f.bytes()); }
Network onnx_model(const OpenedFile& f) { return read_onnx_graph(f.bytes(), f.path()); }
#endif

}  // namespace

const std::vector<FileFormat>& file_formats() {
  static const std::vector<FileFormat> formats = {
      {"torchscript", is_torchscript, torchscript_model, torchscript_weights, nullptr},
      {"pth", is_pth, nullptr, pth_weights, nullptr},
      {"safetensors", is_safetensors, nullptr, safetensors_weights, nullptr},
      {"pickle", is_legacy_pickle, nullptr, nullptr,
       ": legacy (pre-zip) PyTorch format; convert it with tools/convert_weights.py (Debian's "
       "python3-torch)"},
#ifdef LRPBENCH_WITH_ONNX
      {"onnx", is_onnx, onnx_model, nullptr, nullptr},
#endif
  };
  return formats;
}

const FileFormat* sniff_format(const OpenedFile& file) {
  for (const FileFormat& f : file_formats())
    if (f.claims(file)) return &f;
  return nullptr;
}

}  // namespace lrpbench
