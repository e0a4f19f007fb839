#pragma once
// The network IR: a sequential chain of layers with layer indices (docs/method.md).
#include <ATen/core/Tensor.h>

#include <array>
#include <string>
#include <vector>

#include "model/shape.h"

namespace lrpbench {

using Pair = std::array<int64_t, 2>;

struct Layer {
  LayerKind kind = LayerKind::ReLU;
  int index = -1;    // layer index (docs/method.md); -1 for layers without one (Flatten)
  std::string name;  // parameter prefix, e.g. "features.0"
  // Conv2d / Linear: weight, bias. BatchNorm2d: weight (gamma), bias (beta), running stats.
  at::Tensor weight, bias, running_mean, running_var;
  double bn_eps = 1e-5;
  int64_t in_channels = 0, out_channels = 0;  // Conv2d / Linear (features) / BatchNorm2d
  Pair kernel{1, 1}, stride{1, 1}, padding{0, 0}, dilation{1, 1};
  Pair output_size{0, 0};  // AdaptiveAvgPool2d
  bool ceil_mode = false;
};

struct Network {
  std::string arch;  // e.g. "vgg16", "fashion-vgg"
  std::vector<Layer> layers;
  int64_t in_channels = 3;
  int64_t default_size = 224;     // expected input height and width
  std::vector<double> mean, std;  // per-channel input normalisation
  int64_t num_classes = 1000;
  int num_indices = 0;  // 1 + the largest layer index
  bool canonical = false;
  bool grayscale() const { return in_channels == 1; }
  // Index of the layer with layer index `index` in `layers`, or -1.
  int position_of(int index) const;
  // layer indices of the linear layers, ascending.
  std::vector<int> linear_indices() const;
  // The network's parameters on `device` (conversion is a copy).
  Network to(const at::Device& device) const;
  at::Device device() const;
  // The layer structure without parameters (what composites are defined on); a Network
  // converts to it wherever one is expected.
  ModelShape shape() const;
  operator ModelShape() const { return shape(); }  // NOLINT(google-explicit-constructor)
};

// What a forward pass records for LRP: each layer's input, each linear layer's output,
// and the max-pool indices.
struct ForwardRecord {
  std::vector<at::Tensor> inputs;   // inputs[i] = input of layers[i]
  std::vector<at::Tensor> outputs;  // linear layers only (pre-activation); else undefined
  std::vector<at::Tensor> pool_indices;
  at::Tensor logits;
};

// Checks that x is N x C x H x W with the network's channel count; throws InputError.
void check_input(const Network& net, const at::Tensor& x, const std::string& what);
// Plain forward pass (differentiable when x requires grad). Fills rec if given.
at::Tensor forward(const Network& net, const at::Tensor& x, ForwardRecord* rec = nullptr);
// Forward pass of a single layer.
at::Tensor forward_layer(const Layer& layer, const at::Tensor& x);

}  // namespace lrpbench
