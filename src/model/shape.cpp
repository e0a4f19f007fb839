#include "model/shape.h"

namespace lrpbench {

const char* layer_kind_name(LayerKind kind) {
  switch (kind) {
    case LayerKind::Conv2d:
      return "Conv2d";
    case LayerKind::Linear:
      return "Linear";
    case LayerKind::ReLU:
      return "ReLU";
    case LayerKind::MaxPool2d:
      return "MaxPool2d";
    case LayerKind::AvgPool2d:
      return "AvgPool2d";
    case LayerKind::AdaptiveAvgPool2d:
      return "AdaptiveAvgPool2d";
    case LayerKind::Flatten:
      return "Flatten";
    case LayerKind::Dropout:
      return "Dropout";
    case LayerKind::BatchNorm2d:
      return "BatchNorm2d";
  }
  return "?";
}

bool is_linear(LayerKind kind) {
  return kind == LayerKind::Conv2d || kind == LayerKind::Linear || kind == LayerKind::AvgPool2d ||
         kind == LayerKind::AdaptiveAvgPool2d;
}

bool has_parameters(LayerKind kind) {
  return kind == LayerKind::Conv2d || kind == LayerKind::Linear || kind == LayerKind::BatchNorm2d;
}

std::vector<int> ModelShape::linear_indices() const {
  std::vector<int> out;
  for (const LayerInfo& l : layers)
    if (is_linear(l.kind)) out.push_back(l.index);
  return out;
}

}  // namespace lrpbench
