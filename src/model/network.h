#pragma once
// The network IR: a directed acyclic graph of nodes in execution order, from one input to one
// output (the logits, the last node), with names, layer indices and composite slots
// (docs/method.md, "Graph models"). A VGG is a graph without branches.
#include <ATen/core/Tensor.h>

#include <array>
#include <limits>
#include <string>
#include <vector>

#include "model/graph_check.h"
#include "model/shape.h"

namespace lrpbench {

using Pair = std::array<int64_t, 2>;

constexpr int kNetworkInput = -1;  // in Layer::inputs: the model's input

struct Layer {
  LayerKind kind = LayerKind::ReLU;
  int index = -1;    // layer index (docs/method.md); -1 for nodes without a module
  std::string name;  // unique node name; for parameterised nodes the state-dict prefix
  // Positions in Network::layers of the nodes this one reads (kNetworkInput: the input);
  // empty before Network::finalize(), which links a chain.
  std::vector<int> inputs;
  int slot = -1;           // position of its rule in a Composite; -1: carries no rule
  int64_t resolution = 0;  // output height at the default input size (0: not spatial)
  // Conv2d / Linear: weight, bias (undefined when has_bias is false). BatchNorm2d: weight
  // (gamma), bias (beta), running stats; after canonization an unfolded BatchNorm2d is the
  // per-channel affine map x * weight + bias with undefined running stats.
  at::Tensor weight, bias, running_mean, running_var;
  bool has_bias = true;
  double bn_eps = 1e-5;
  int64_t in_channels = 0, out_channels = 0;  // Conv2d / Linear (features) / BatchNorm2d
  int64_t groups = 1;
  Pair kernel{1, 1}, stride{1, 1}, padding{0, 0}, dilation{1, 1};
  Pair output_size{0, 0};  // AdaptiveAvgPool2d
  bool ceil_mode = false;
  double clamp_max = std::numeric_limits<double>::infinity();  // ReLU6: 6
  std::vector<int64_t> pad;  // Pad: zeros added {left, right, top, bottom} (each >= 0)
  // Transformer kinds. Norm: weight, bias (D), eps in bn_eps, in_channels = D. ClassToken:
  // weight 1 x 1 x D. Scale: weight and/or bias (either undefined), broadcast over N x T x D.
  Activation activation = Activation::GeluErf;  // Act
  int64_t heads = 0;                            // Attention
  int64_t token = 0;                            // Select: the token kept
  int gate = -1;  // Product: which input (0 or 1) is the gate (docs/method.md, "Transformers")
  bool attention_projection = false;  // Linear: an attention's in- or out-projection
  // State-dict keys where they are not `name + ".weight"` / `".bias"` (torch's
  // nn.MultiheadAttention: "in_proj_weight"; the class token, the positional embedding).
  std::string weight_key, bias_key;
};

struct Network {
  std::string arch;  // e.g. "vgg16", "fashion-vgg", "resnet50"
  std::vector<Layer> layers;
  int64_t in_channels = 3;
  int64_t default_size = 224;     // expected input height and width
  bool fixed_size = false;        // inputs must be default_size (embedded 28x28 models)
  std::vector<double> mean, std;  // per-channel input normalisation
  int64_t num_classes = 1000;
  int num_indices = 0;  // 1 + the largest layer index
  int num_slots = 0;    // composite entries (see finalize)
  bool canonical = false;
  bool named = false;  // canonical forms by node name even where every rule node has an index
  bool grayscale() const { return in_channels == 1; }
  // Links a chain (empty inputs read the previous node), makes names unique (`_1`, `_2`,
  // ... in execution order), assigns composite slots (a node's layer index where it has one,
  // else num_indices, num_indices + 1, ... in execution order; a BatchNorm that canonization
  // folds gets none) and output resolutions. Throws InputError for a malformed graph: the
  // checks of model/graph_check.h (attributes, parameter shapes, every node's output at the
  // default input size; a dense layer's input features that do not fit are left to the
  // caller where the input size is not fixed, see load_model).
  void finalize();
  // The nodes as model/graph_check.h checks them (parameter shapes, no data).
  std::vector<NodeSpec> node_specs() const;
  // Every node's output for a C x H x W input (InputError-free: the fault is returned).
  GraphShapes shapes_at(int64_t height, int64_t width) const;
  // Index of the first node with layer index `index` in `layers`, or -1.
  int position_of(int index) const;
  // Position of the node named `name`, or -1.
  int position_named(const std::string& name) const;
  // layer indices of the rule-carrying nodes, ascending.
  std::vector<int> linear_indices() const;
  // Number of nodes reading each node's output.
  std::vector<int> consumers() const;
  // Whether the BatchNorm at position `pos` folds into its producer (a conv or dense layer
  // that feeds nothing else).
  bool foldable(size_t pos) const;
  // The network's parameters on `device` (conversion is a copy).
  Network to(const at::Device& device) const;
  at::Device device() const;
  // The node structure without parameters (what composites are defined on); a Network
  // converts to it wherever one is expected.
  ModelShape shape() const;
  operator ModelShape() const { return shape(); }  // NOLINT(google-explicit-constructor)
};

// What a forward pass records for LRP: every node's output and the max-pool indices.
struct ForwardRecord {
  at::Tensor input;
  std::vector<at::Tensor> outputs;  // outputs[i] = output of layers[i]
  std::vector<at::Tensor> pool_indices;
  at::Tensor logits;
  // The k-th input of node `pos`.
  const at::Tensor& in(const Network& net, size_t pos, size_t k = 0) const {
    const int src = net.layers[pos].inputs[k];
    return src == kNetworkInput ? input : outputs[static_cast<size_t>(src)];
  }
};

// Refuses (InputError naming the model and the node) a BatchNorm whose running variance plus
// eps is not positive anywhere: finite, but its square root is not real.
void check_batchnorm_statistics(const Network& net);
// Checks that x is N x C x H x W with the network's channel count (and its size where the
// network fixes one) and that every node fits that size; throws InputError.
void check_input(const Network& net, const at::Tensor& x, const std::string& what);
// Plain forward pass (differentiable when x requires grad). Fills rec if given. With
// `train`, BatchNorm uses (and updates) batch statistics and dropout drops with p = 0.5.
// Without it, logits that are not finite are an InputError (the model, normalisation or
// input overflow float32).
at::Tensor forward(const Network& net, const at::Tensor& x, ForwardRecord* rec = nullptr,
                   bool train = false);
// A Pad node's {left, right, top, bottom} from torch's pad list (last axis first: 2 or 4
// values): empty where it pads other axes or crops (negative values).
std::vector<int64_t> spatial_padding(const std::vector<int64_t>& torch_pads);

// A parameter read from a model file, as float32 and contiguous. Refuses (InputError naming
// `what`, e.g. "model.pt: parameter 'fc.weight'") a non-floating dtype, over kMaxParameterValues
// values or more than its storage holds (a repeating view; all before copying), NaN, infinity.
at::Tensor parameter_tensor(const at::Tensor& t, const std::string& what);

// An Act node's function.
at::Tensor activation(Activation a, const at::Tensor& x);
// One attention's pieces from packed q|k|v (N x T x 3D, heads H, head width d = D / H): q, k, v
// as N x H x T x d, the softmax A = softmax(q k^T / sqrt(d)) (N x H x T x T) and 1 / sqrt(d).
// Torch's order: q is scaled before the product.
struct AttentionParts {
  at::Tensor q, k, v, attn;
  double scale = 1.0;
};
AttentionParts attention_parts(const at::Tensor& qkv, int64_t heads);
// N x H x T x d -> N x T x (H d).
at::Tensor merge_heads(const at::Tensor& o);

// Forward pass of a single node with one input (not Add / Concat).
at::Tensor forward_layer(const Layer& layer, const at::Tensor& x);

}  // namespace lrpbench
