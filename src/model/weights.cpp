#include "model/weights.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "model/architectures.h"
#include "model/formats.h"
#include "util/error.h"
#include "util/limits.h"
#include "util/file.h"

namespace lrpbench {

std::string shipped_checkpoint(const std::string& arch) {
  const char* env = std::getenv("LRPBENCH_MODELS");
  const std::string dir = env && *env ? env : std::string(LRPBENCH_SOURCE_DIR) + "/models";
  return dir + "/" + arch + ".safetensors";
}

void load_weights(Network& net, const std::string& path) {
  const OpenedFile file(path, "--weights");
  require(file.bytes().size() >= 8, path + ": file too short to hold weights (truncated?)");
  const FileFormat* format = sniff_format(file);
  if (format && format->refusal) throw InputError(path + format->refusal);
  require(format && format->load_weights,
          path + ": unknown weights format (expected .safetensors, a zip-format .pth or a "
                 "TorchScript module)");
  format->load_weights(net, file);
}

bool is_model_file(const std::string& model) {
  const std::vector<std::string> names = architecture_names();
  if (std::find(names.begin(), names.end(), model) != names.end()) return false;
  return model.find('/') != std::string::npos || model.find('.') != std::string::npos;
}

void parse_normalization(const std::string& spec, int64_t channels, const std::string& what,
                         std::vector<double>* mean, std::vector<double>* std) {
  if (spec == "imagenet") {
    *mean = {0.485, 0.456, 0.406};
    *std = {0.229, 0.224, 0.225};
  } else if (spec == "fashion-mnist") {
    *mean = {0.2860};
    *std = {0.3530};
  } else {
    const auto colon = spec.find(':');
    auto numbers = [&](const std::string& text) {
      std::vector<double> out;
      size_t p = 0;
      while (p <= text.size()) {
        const size_t e = std::min(text.find(',', p), text.size());
        const std::string tok = text.substr(p, e - p);
        char* end = nullptr;
        const double v = tok.empty() ? 0.0 : std::strtod(tok.c_str(), &end);
        require(!tok.empty() && end == tok.c_str() + tok.size() && std::isfinite(v) &&
                    std::fabs(v) <= 1e6 && tok.find_first_of("xXnN") == std::string::npos,
                what + ": '" + tok + "' is not a number from -1e6 to 1e6 in '" + spec + "'");
        out.push_back(v);
        p = e + 1;
      }
      return out;
    };
    require(colon != std::string::npos,
            what + ": expected imagenet, fashion-mnist or MEAN,...:STD,..., got '" + spec + "'");
    *mean = numbers(spec.substr(0, colon));
    *std = numbers(spec.substr(colon + 1));
    require(mean->size() == std->size(), what + ": as many means as stds needed, got '" + spec + "'");
    // Below 1e-6 the box rules' pixel bounds ((0 - mean) / std, (1 - mean) / std) and the
    // normalised inputs leave float32's range (relevance of NaN, exit 0, before).
    for (double s : *std)
      require(s >= 1e-6, what + ": a std must be at least 1e-6, got '" + spec + "'");
  }
  require(static_cast<int64_t>(mean->size()) == channels,
          what + ": '" + spec + "' has " + std::to_string(mean->size()) + " channel(s), the model " +
              std::to_string(channels));
}

namespace {

// A model whose dense layer reads a flattened feature map fixes its input size: the smallest
// square size (8 to 4096) at which every node's input fits, the dense layers' features
// included (model/graph_check.h; nothing runs).
void fix_input_size(Network& net, const std::string& path) {
  const GraphShapes at_default = net.shapes_at(net.default_size, net.default_size);
  if (!at_default.fault) return;
  const std::vector<NodeSpec> nodes = net.node_specs();
  for (int64_t s = 8; s <= 4096; ++s) {
    if (infer_graph_shapes(nodes, {net.in_channels, s, s, true}, path).fault) continue;
    net.default_size = s;
    net.fixed_size = true;
    net.finalize();
    return;
  }
  throw InputError(*at_default.fault + "; no square input of 8 to 4096 pixels fits " + path);
}

// A classifier from a file whose format reads models (model/formats.h: TorchScript, ONNX),
// weights inside, checked to map an image to a vector of logits.
Network load_model_file(const std::string& path, const std::string& normalize) {
  const OpenedFile file(path, "--model");
  const FileFormat* format = sniff_format(file);
  if (format && format->refusal) throw InputError(path + format->refusal);
  if (format && !format->read_model && !file.zip())
    throw InputError(path + ": a " + format->name + " file holds weights, not a model: give it to "
                            "--weights with a built-in --model");
  if (!format || !format->read_model) {
    if (file.zip())
      throw InputError(path + ": a zip but not a TorchScript module (torch.jit.save of a scripted "
                              "or traced model)");
#ifdef LRPBENCH_WITH_ONNX
    throw InputError(path + ": neither a TorchScript module nor an ONNX model");
#else
    throw InputError(path + ": not a TorchScript module (this build reads no ONNX: install "
                            "libonnx-dev and libprotobuf-dev and rebuild)");
#endif
  }
  Network net = format->read_model(file);
  const int64_t channels = net.in_channels;
  net.named = true;
  require(channels == 1 || channels == 3,
          path + ": the first layer takes " + std::to_string(channels) +
              " input channels; lrpbench reads images with 1 or 3");
  net.in_channels = channels;
  if (!net.fixed_size) net.default_size = channels == 1 ? 28 : 224;
  parse_normalization(normalize.empty() ? (channels == 1 ? "fashion-mnist" : "imagenet")
                                        : normalize,
                      channels, "--normalize", &net.mean, &net.std);
  net.finalize();
  fix_input_size(net, path);
  check_batchnorm_statistics(net);
  const at::Tensor y = forward(net, at::zeros({1, channels, net.default_size, net.default_size}));
  require(y.dim() == 2, path + ": the model's output has " + std::to_string(y.dim()) +
                            " dimensions, not N x classes logits");
  net.num_classes = y.size(1);
  return net;
}

}  // namespace

LoadedModel load_model(const std::string& arch, const std::string& weights, uint64_t seed,
                       const std::string& normalize) {
  if (is_model_file(arch)) {
    require(weights.empty(), "--weights: the model file " + arch + " carries its own weights");
    return {load_model_file(arch, normalize), arch, false};
  }
  require(normalize.empty(), "--normalize: only for models loaded from a file (--model FILE)");
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
