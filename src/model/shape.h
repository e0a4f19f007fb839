#pragma once
// The layer structure of a network without its parameters: kinds and layer indices (docs/method.md) in
// execution order. Composites and presets are defined on it, so the composite grammar builds
// (and is fuzzed) without LibTorch.
#include <string>
#include <vector>

namespace lrpbench {

enum class LayerKind {
  Conv2d,
  Linear,
  ReLU,
  MaxPool2d,
  AvgPool2d,
  AdaptiveAvgPool2d,
  Flatten,
  Dropout,
  BatchNorm2d
};

const char* layer_kind_name(LayerKind kind);

// A "linear layer" in LRP's sense: a layer that a composite assigns a rule to.
bool is_linear(LayerKind kind);
bool has_parameters(LayerKind kind);

struct LayerInfo {
  LayerKind kind = LayerKind::ReLU;
  int index = -1;  // layer index (docs/method.md); -1 for layers without one (Flatten)
};

struct ModelShape {
  std::string arch;
  std::vector<LayerInfo> layers;
  int num_indices = 0;  // 1 + the largest layer index
  // layer indices of the linear layers, ascending.
  std::vector<int> linear_indices() const;
};

}  // namespace lrpbench
