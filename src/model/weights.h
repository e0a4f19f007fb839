#pragma once
#include <cstdint>
#include <string>

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

// Builds `arch` and fills its parameters: from `weights` if given; otherwise the shipped
// checkpoint (fashion-vgg, fashion-resnet) or a seeded random initialisation (VGGs, ResNets).
LoadedModel load_model(const std::string& arch, const std::string& weights, uint64_t seed);

}  // namespace lrpbench
