#pragma once
// Built-in architectures: torchvision's VGG, ResNet and ViT layouts (state-dict keys included),
// the embedded fashion-vgg, fashion-resnet and fashion-vit.
#include <string>
#include <vector>

#include "model/network.h"

namespace lrpbench {

// Names accepted by --model.
std::vector<std::string> architecture_names();
// Builds the architecture with uninitialised (undefined) parameters; throws InputError
// for an unknown name.
Network build_architecture(const std::string& name);
// Fills every parameter with a seeded random initialisation (torchvision's scheme:
// kaiming-normal fan-out convs, N(0, 0.01) dense, zero biases, unit BatchNorm; in transformers
// Xavier-uniform dense layers, unit LayerNorm, a zero class token, an N(0, 0.02) positional
// embedding).
void init_random(Network& net, uint64_t seed);

}  // namespace lrpbench
