#pragma once
// The structure of a network without its parameters: node kinds, names, layer indices and
// composite slots (docs/method.md, "Graph models") in execution order. Composites and
// presets are defined on it, so the composite grammar builds (and is fuzzed) without LibTorch.
#include <cstdint>
#include <string>
#include <vector>

namespace lrpbench {

enum class LayerKind {
  Conv2d,
  Linear,
  ReLU,  // also ReLU6 / hard-tanh clamps: relevance passes unchanged
  MaxPool2d,
  AvgPool2d,
  AdaptiveAvgPool2d,
  Flatten,
  Dropout,      // dropout and identity
  BatchNorm2d,  // eval mode; folded into its producer where docs/method.md allows
  Add,          // element-wise sum of two or more inputs
  Concat,       // concatenation along channels
  Pad,          // zero padding of the spatial axes; relevance on the padding is dropped
  // Transformers (docs/method.md, "Transformers"): token tensors N x T x D.
  Tokens,      // patches to tokens: N x C x H x W -> N x (H W) x C (flatten, transpose)
  ClassToken,  // prepends a constant token (weight: 1 x 1 x D): N x T x D -> N x (T+1) x D
  Scale,       // x * weight + bias with constant tensors (layer scale, positional embedding)
  Norm,        // LayerNorm over the last axis (weight, bias: D; eps in Layer::bn_eps)
  Act,         // element-wise non-linearity (Layer::activation): GELU, SiLU, ...
  Attention,   // scaled dot-product attention from packed q|k|v (N x T x 3D) to N x T x D
  Product,     // element-wise product of two computed tensors (broadcasting)
  Softmax,     // softmax over the last axis
  Select,      // one token (Layer::token) of N x T x D: N x D
  Map          // tokens back to a map: N x (H W) x C -> N x C x H x W (Layer::output_size)
};

// The element-wise functions of an Act node.
enum class Activation { GeluErf, GeluTanh, SiLU, Sigmoid, Tanh, Hardswish, Hardsigmoid };
const char* activation_name(Activation a);

// The embedded 1 x 28 x 28 models whose trained weights ship in models/ (fashion-vgg,
// fashion-resnet, fashion-vit).
bool is_embedded_model(const std::string& arch);

// What every part of lrpbench knows about a node kind, in one row per kind (shape.cpp). The
// kind's forward pass and output resolution live in model/network.cpp's table, its backward
// pass in lrp's (a rule's propagation for kinds that carry rules). A new kind is its enum
// value, this row, those two rows and the importers' mapping.
struct NodeKindInfo {
  LayerKind kind;
  const char* torch_name;  // PyTorch's module name: "Conv2d", "ReLU", ...
  const char* name;        // the short kind of explain.json, listings and `@type` selectors
  bool carries_rule;       // takes a rule (an unfolded BatchNorm2d does too, see Network)
  bool linear_rules;       // takes the rules of linear maps (zero, gamma, ...); else its own
  bool parameters;         // has state-dict tensors
  bool several_inputs;     // reads two or more nodes (else exactly one)
  bool nonneg_out;         // its output is >= 0 by construction (ReLU)
  bool keeps_nonneg;       // its output is >= 0 where all its inputs are (pools, add, ...)
};
const NodeKindInfo& node_kind_info(LayerKind kind);

const char* layer_kind_name(LayerKind kind);
// The short kind written in explain.json and listings: conv, linear, bn, add, avgpool, ...
const char* node_kind_name(LayerKind kind);

// Kinds that take the rules of linear maps (conv, dense, pools by average, add; an unfolded
// BatchNorm too, decided by the network).
bool is_linear(LayerKind kind);
// Kinds that carry a rule: the linear ones and the transformer kinds with rules of their own
// (norm, act, attention, product).
bool carries_rule(LayerKind kind);
bool has_parameters(LayerKind kind);

struct LayerInfo {
  LayerKind kind = LayerKind::ReLU;
  int index = -1;    // layer index (docs/method.md); -1 for nodes without a module
  std::string name;  // unique node name, e.g. "features.0", "layer1.0.add"
  int slot = -1;     // position of its rule in a Composite; -1: carries no rule
  int64_t resolution = 0;  // output height at the model's default input size (0: dense)
  bool attention_projection = false;  // a linear node projecting into or out of attention
};

struct ModelShape {
  std::string arch;
  std::vector<LayerInfo> layers;
  int num_indices = 0;  // 1 + the largest layer index
  int num_slots = 0;    // entries of a Composite for this model
  // Canonical forms by layer index (every rule-carrying node has an index: the VGGs) or by
  // node name (graph models).
  bool by_index = true;
  // layer indices of the rule-carrying nodes, ascending.
  std::vector<int> linear_indices() const;
  // positions in `layers` of the rule-carrying nodes, in execution order.
  std::vector<size_t> rule_nodes() const;
};

// Whether the model has a node kind with rules of its own (norm, act, attention, product): a
// transformer (or another non-ReLU model), whose presets are cp-lrp and attnlrp.
bool has_own_rule_kinds(const ModelShape& net);

}  // namespace lrpbench
