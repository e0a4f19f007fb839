#include "model/shape.h"

#include <algorithm>
#include <stdexcept>

namespace lrpbench {

bool is_embedded_model(const std::string& arch) {
  return arch == "fashion-vgg" || arch == "fashion-resnet" || arch == "fashion-vit";
}

namespace {

using K = LayerKind;
// clang-format off
constexpr NodeKindInfo kNodeKinds[] = {
    // kind, torch name, name, rule, linear rules, parameters, several inputs, >= 0 out, keeps >= 0
    {K::Conv2d, "Conv2d", "conv", true, true, true, false, false, false},
    {K::Linear, "Linear", "linear", true, true, true, false, false, false},
    {K::ReLU, "ReLU", "relu", false, false, false, false, true, true},
    {K::MaxPool2d, "MaxPool2d", "maxpool", false, false, false, false, false, true},
    {K::AvgPool2d, "AvgPool2d", "avgpool", true, true, false, false, false, true},
    {K::AdaptiveAvgPool2d, "AdaptiveAvgPool2d", "avgpool", true, true, false, false, false, true},
    {K::Flatten, "Flatten", "flatten", false, false, false, false, false, true},
    {K::Dropout, "Dropout", "identity", false, false, false, false, false, true},
    {K::BatchNorm2d, "BatchNorm2d", "bn", false, false, true, false, false, false},
    {K::Add, "Add", "add", true, true, false, true, false, true},
    {K::Concat, "Concat", "concat", false, false, false, true, false, true},
    {K::Pad, "Pad", "pad", false, false, false, false, false, true},
    {K::Tokens, "Tokens", "tokens", false, false, false, false, false, true},
    {K::ClassToken, "ClassToken", "cls", false, false, true, false, false, false},
    {K::Scale, "Scale", "scale", false, false, true, false, false, false},
    {K::Norm, "LayerNorm", "norm", true, false, true, false, false, false},
    {K::Act, "Activation", "act", true, false, false, false, false, false},
    {K::Attention, "Attention", "attention", true, false, false, false, false, false},
    {K::Product, "Product", "product", true, false, false, true, false, false},
    {K::Softmax, "Softmax", "softmax", false, false, false, false, true, true},
    {K::Select, "Select", "select", false, false, false, false, false, true},
    {K::Map, "Map", "map", false, false, false, false, false, true},
};
// clang-format on

}  // namespace

const NodeKindInfo& node_kind_info(LayerKind kind) {
  for (const NodeKindInfo& k : kNodeKinds)
    if (k.kind == kind) return k;
  throw std::logic_error("node kind without a row in kNodeKinds");
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::GeluErf: return "gelu";
    case Activation::GeluTanh: return "gelu-tanh";
    case Activation::SiLU: return "silu";
    case Activation::Sigmoid: return "sigmoid";
    case Activation::Tanh: return "tanh";
    case Activation::Hardswish: return "hardswish";
    case Activation::Hardsigmoid: return "hardsigmoid";
  }
  return "?";
}

const char* layer_kind_name(LayerKind kind) { return node_kind_info(kind).torch_name; }

const char* node_kind_name(LayerKind kind) { return node_kind_info(kind).name; }

bool is_linear(LayerKind kind) { return node_kind_info(kind).linear_rules; }

bool carries_rule(LayerKind kind) { return node_kind_info(kind).carries_rule; }

bool has_parameters(LayerKind kind) { return node_kind_info(kind).parameters; }

bool has_own_rule_kinds(const ModelShape& net) {
  for (const LayerInfo& l : net.layers)
    if (carries_rule(l.kind) && !is_linear(l.kind)) return true;
  return false;
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
