#include "model/shape.h"

#include <algorithm>

namespace lrpbench {

bool is_embedded_model(const std::string& arch) {
  return arch == "fashion-vgg" || arch == "fashion-resnet";
}

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
    case LayerKind::Add:
      return "Add";
    case LayerKind::Concat:
      return "Concat";
    case LayerKind::Pad:
      return "Pad";
  }
  return "?";
}

const char* node_kind_name(LayerKind kind) {
  switch (kind) {
    case LayerKind::Conv2d:
      return "conv";
    case LayerKind::Linear:
      return "linear";
    case LayerKind::ReLU:
      return "relu";
    case LayerKind::MaxPool2d:
      return "maxpool";
    case LayerKind::AvgPool2d:
    case LayerKind::AdaptiveAvgPool2d:
      return "avgpool";
    case LayerKind::Flatten:
      return "flatten";
    case LayerKind::Dropout:
      return "identity";
    case LayerKind::BatchNorm2d:
      return "bn";
    case LayerKind::Add:
      return "add";
    case LayerKind::Concat:
      return "concat";
    case LayerKind::Pad:
      return "pad";
  }
  return "?";
}

bool is_linear(LayerKind kind) {
  return kind == LayerKind::Conv2d || kind == LayerKind::Linear || kind == LayerKind::AvgPool2d ||
         kind == LayerKind::AdaptiveAvgPool2d || kind == LayerKind::Add;
}

bool has_parameters(LayerKind kind) {
  return kind == LayerKind::Conv2d || kind == LayerKind::Linear || kind == LayerKind::BatchNorm2d;
}

std::vector<int> ModelShape::linear_indices() const {
  std::vector<int> out;
  for (const LayerInfo& l : layers)
    if (l.slot >= 0 && l.index >= 0) out.push_back(l.index);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<size_t> ModelShape::rule_nodes() const {
  std::vector<size_t> out;
  for (size_t i = 0; i < layers.size(); ++i)
    if (layers[i].slot >= 0) out.push_back(i);
  return out;
}

}  // namespace lrpbench
