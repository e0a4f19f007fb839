#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/network.h"

namespace lrpbench {

// Path of a shipped checkpoint (models/ARCH.safetensors for fashion-vgg and fashion-resnet;
// the LRPBENCH_MODELS environment variable overrides the folder).
std::string shipped_checkpoint(const std::string& arch);

// Loads parameters from `path`, detecting the format: safetensors, zip-format .pth,
// TorchScript. Throws InputError naming the file.
void load_weights(Network& net, const std::string& path);

struct LoadedModel {
  Network net;          // as loaded (BatchNorm unfolded): layer indices as docs/method.md numbers them
  std::string weights;  // file the parameters came from, or "random(seed)"
  bool random = false;
};

// Whether --model names a file (a TorchScript module or an ONNX model) rather than a built-in
// architecture.
bool is_model_file(const std::string& model);

// The input normalisation `spec` names: "imagenet", "fashion-mnist" or "M1,M2,...:S1,S2,..."
// (one mean and one positive std per channel). Throws InputError naming `what`.
void parse_normalization(const std::string& spec, int64_t channels, const std::string& what,
                         std::vector<double>* mean, std::vector<double>* std);

// Builds `arch` and fills its parameters: from `weights` if given; otherwise the shipped
// checkpoint (fashion-vgg, fashion-resnet) or a seeded random initialisation (VGGs, ResNets).
// A model file (is_model_file) carries its weights; `normalize` (empty: imagenet for three
// channels, fashion-mnist for one) sets its input normalisation.
LoadedModel load_model(const std::string& arch, const std::string& weights, uint64_t seed,
                       const std::string& normalize = "");

}  // namespace lrpbench
