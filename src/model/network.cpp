#include "model/network.h"

#include <ATen/ATen.h>

#include <cmath>
#include <map>
#include <stdexcept>

#include "model/conv.h"
#include "util/error.h"

namespace lrpbench {

int Network::position_of(int index) const {
  for (size_t i = 0; i < layers.size(); ++i)
    if (layers[i].index == index) return static_cast<int>(i);
  return -1;
}

int Network::position_named(const std::string& name) const {
  for (size_t i = 0; i < layers.size(); ++i)
    if (layers[i].name == name) return static_cast<int>(i);
  return -1;
}

std::vector<int> Network::linear_indices() const {
  return shape().linear_indices();
}

std::vector<int> Network::consumers() const {
  std::vector<int> n(layers.size(), 0);
  for (const Layer& l : layers)
    for (int src : l.inputs)
      if (src != kNetworkInput) ++n[static_cast<size_t>(src)];
  return n;
}

bool Network::foldable(size_t pos) const {
  const Layer& l = layers[pos];
  if (l.kind != LayerKind::BatchNorm2d || l.inputs.size() != 1 || l.inputs[0] == kNetworkInput)
    return false;
  const Layer& p = layers[static_cast<size_t>(l.inputs[0])];
  if (p.kind != LayerKind::Conv2d && p.kind != LayerKind::Linear) return false;
  return consumers()[static_cast<size_t>(l.inputs[0])] == 1;
}

namespace {

using Inputs = std::vector<at::Tensor>;

// The node kinds' forward passes (inputs in Layer::inputs order; `train`: batch statistics
// and dropout) and output heights from the input's (0: not spatial).
at::Tensor conv_forward(const Layer& l, const Inputs& in, bool /*train*/) {
  return conv2d_batch_invariant(in[0], l.weight, l.bias, l.stride, l.padding, l.dilation, l.groups);
}

at::Tensor linear_forward(const Layer& l, const Inputs& in, bool /*train*/) {
  if (in[0].dim() == 3) return at::linear(in[0], l.weight, l.bias);  // tokens: the last axis
  const at::Tensor x = in[0].dim() == 2 ? in[0] : in[0].flatten(1);
  require(x.size(1) == l.in_channels,
          "layer " + l.name + " (index " + std::to_string(l.index) + ") expects " +
              std::to_string(l.in_channels) + " input features, got " +
              std::to_string(x.size(1)) + ": wrong input size for this model");
  return at::linear(x, l.weight, l.bias);
}

at::Tensor relu_forward(const Layer& l, const Inputs& in, bool /*train*/) {
  return std::isinf(l.clamp_max) ? at::relu(in[0]) : at::clamp(in[0], 0.0, l.clamp_max);
}

at::Tensor maxpool_forward(const Layer& l, const Inputs& in, bool /*train*/) {
  return at::max_pool2d(in[0], l.kernel, l.stride, l.padding, l.dilation, l.ceil_mode);
}

at::Tensor avgpool_forward(const Layer& l, const Inputs& in, bool /*train*/) {
  return at::avg_pool2d(in[0], l.kernel, l.stride, l.padding, l.ceil_mode);
}

at::Tensor adaptive_forward(const Layer& l, const Inputs& in, bool /*train*/) {
  const at::Tensor& x = in[0];
  if (x.size(2) == l.output_size[0] && x.size(3) == l.output_size[1]) return x;
  return at::adaptive_avg_pool2d(x, l.output_size);
}

at::Tensor flatten_forward(const Layer& /*l*/, const Inputs& in, bool /*train*/) {
  return in[0].flatten(1);
}

at::Tensor dropout_forward(const Layer& /*l*/, const Inputs& in, bool train) {
  return train ? at::dropout(in[0], 0.5, true) : in[0];
}

at::Tensor pad_forward(const Layer& l, const Inputs& in, bool /*train*/) {
  return at::constant_pad_nd(in[0], l.pad, 0.0);
}

at::Tensor batchnorm_forward(const Layer& l, const Inputs& in, bool train) {
  if (train)
    return at::batch_norm(in[0], l.weight, l.bias, l.running_mean, l.running_var, true, 0.1,
                          l.bn_eps, false);
  if (!l.running_mean.defined())  // canonical: the affine map
    return in[0] * l.weight.view({1, -1, 1, 1}) + l.bias.view({1, -1, 1, 1});
  return at::batch_norm(in[0], l.weight, l.bias, l.running_mean, l.running_var, false, 0.0,
                        l.bn_eps, false);
}

at::Tensor add_forward(const Layer& l, const Inputs& in, bool /*train*/) {
  for (size_t k = 1; k < in.size(); ++k)
    require(in[k].sizes() == in[0].sizes(),
            "node " + l.name + " adds tensors of different shapes: wrong input size");
  at::Tensor sum = in[0] + in[1];
  for (size_t k = 2; k < in.size(); ++k) sum = sum + in[k];
  return sum;
}

at::Tensor concat_forward(const Layer& /*l*/, const Inputs& in, bool /*train*/) {
  return at::cat(in, 1);
}

// Transformer kinds (docs/method.md, "Transformers").
at::Tensor tokens_forward(const Layer& /*l*/, const Inputs& in, bool /*train*/) {
  return in[0].flatten(2).transpose(1, 2);
}

at::Tensor map_forward(const Layer& l, const Inputs& in, bool /*train*/) {
  const at::Tensor& x = in[0];
  return x.transpose(1, 2).reshape({x.size(0), x.size(2), l.output_size[0], l.output_size[1]});
}

at::Tensor class_token_forward(const Layer& l, const Inputs& in, bool /*train*/) {
  const at::Tensor& x = in[0];
  return at::cat({l.weight.expand({x.size(0), 1, x.size(2)}), x}, 1);
}

at::Tensor scale_forward(const Layer& l, const Inputs& in, bool /*train*/) {
  at::Tensor y = l.weight.defined() ? in[0] * l.weight : in[0];
  return l.bias.defined() ? y + l.bias : y;
}

at::Tensor norm_forward(const Layer& l, const Inputs& in, bool /*train*/) {
  return at::layer_norm(in[0], {in[0].size(-1)}, l.weight, l.bias, l.bn_eps);
}

at::Tensor act_forward(const Layer& l, const Inputs& in, bool /*train*/) {
  return activation(l.activation, in[0]);
}

at::Tensor attention_forward(const Layer& l, const Inputs& in, bool /*train*/) {
  const AttentionParts p = attention_parts(in[0], l.heads);
  return merge_heads(at::matmul(p.attn, p.v));
}

at::Tensor product_forward(const Layer& /*l*/, const Inputs& in, bool /*train*/) {
  return in[0] * in[1];
}

at::Tensor softmax_forward(const Layer& /*l*/, const Inputs& in, bool /*train*/) {
  return at::softmax(in[0], -1);
}

at::Tensor select_forward(const Layer& l, const Inputs& in, bool /*train*/) {
  return in[0].select(1, l.token);
}

int64_t windowed_resolution(const Layer& l, int64_t in) {
  return in > 0 ? pooled_size(in, l.kernel[0], l.stride[0], l.padding[0],
                         l.kind == LayerKind::AvgPool2d ? 1 : l.dilation[0], l.ceil_mode)
                : 0;
}
int64_t adaptive_resolution(const Layer& l, int64_t /*in*/) { return l.output_size[0]; }
int64_t pad_resolution(const Layer& l, int64_t in) { return in > 0 ? in + l.pad[2] + l.pad[3] : 0; }
int64_t flat_resolution(const Layer& /*l*/, int64_t /*in*/) { return 0; }
int64_t same_resolution(const Layer& /*l*/, int64_t in) { return in; }

struct NodeOps {
  LayerKind kind;
  at::Tensor (*forward)(const Layer&, const Inputs&, bool train);
  int64_t (*resolution)(const Layer&, int64_t in);
};

const NodeOps& node_ops(LayerKind kind) {
  using K = LayerKind;
  static const NodeOps table[] = {
      {K::Conv2d, conv_forward, windowed_resolution},
      {K::Linear, linear_forward, flat_resolution},
      {K::ReLU, relu_forward, same_resolution},
      {K::MaxPool2d, maxpool_forward, windowed_resolution},
      {K::AvgPool2d, avgpool_forward, windowed_resolution},
      {K::AdaptiveAvgPool2d, adaptive_forward, adaptive_resolution},
      {K::Flatten, flatten_forward, flat_resolution},
      {K::Dropout, dropout_forward, same_resolution},
      {K::Pad, pad_forward, pad_resolution},
      {K::BatchNorm2d, batchnorm_forward, same_resolution},
      {K::Add, add_forward, same_resolution},
      {K::Concat, concat_forward, same_resolution},
      {K::Tokens, tokens_forward, flat_resolution},
      {K::ClassToken, class_token_forward, flat_resolution},
      {K::Scale, scale_forward, same_resolution},
      {K::Norm, norm_forward, flat_resolution},
      {K::Act, act_forward, same_resolution},
      {K::Attention, attention_forward, flat_resolution},
      {K::Product, product_forward, same_resolution},
      {K::Softmax, softmax_forward, same_resolution},
      {K::Select, select_forward, flat_resolution},
      {K::Map, map_forward, adaptive_resolution},
  };
  for (const NodeOps& o : table)
    if (o.kind == kind) return o;
  throw std::logic_error(std::string("node kind ") + layer_kind_name(kind) + " has no forward");
}

// Output height of every node at the default input size (0 once flattened).
void infer_resolutions(Network& net) {
  for (Layer& l : net.layers) {
    const int src = l.inputs.empty() ? kNetworkInput : l.inputs[0];
    const int64_t in = src == kNetworkInput ? net.default_size
                                            : net.layers[static_cast<size_t>(src)].resolution;
    l.resolution = node_ops(l.kind).resolution(l, in);
  }
}

// A product's gate (docs/method.md, "Transformers"): the operand a Sigmoid or Hardsigmoid
// produced, else the one broadcast over the other (fewer values), else the second.
void choose_gates(Network& net, const GraphShapes& g) {
  auto sigmoid_like = [&net](int src) {
    if (src == kNetworkInput) return false;
    const Layer& p = net.layers[static_cast<size_t>(src)];
    return p.kind == LayerKind::Act &&
           (p.activation == Activation::Sigmoid || p.activation == Activation::Hardsigmoid);
  };
  auto values = [&g](int src) -> int64_t {
    if (src == kNetworkInput || static_cast<size_t>(src) >= g.out.size()) return -1;
    return act_values(g.out[static_cast<size_t>(src)]);
  };
  for (Layer& l : net.layers) {
    if (l.kind != LayerKind::Product || l.inputs.size() != 2 || l.gate >= 0) continue;
    const bool s0 = sigmoid_like(l.inputs[0]), s1 = sigmoid_like(l.inputs[1]);
    if (s0 != s1) {
      l.gate = s0 ? 0 : 1;
      continue;
    }
    const int64_t v0 = values(l.inputs[0]), v1 = values(l.inputs[1]);
    l.gate = v0 >= 0 && v1 >= 0 && v0 < v1 ? 0 : 1;
  }
}

}  // namespace

void Network::finalize() {
  require(!layers.empty(), arch + ": the model has no nodes");
  for (size_t i = 0; i < layers.size(); ++i)  // a chain's nodes read the one before
    if (layers[i].inputs.empty()) layers[i].inputs = {static_cast<int>(i) - 1};
  check_nodes(node_specs(), arch);
  const GraphShapes g = shapes_at(default_size, default_size);
  if (g.fault && (fixed_size || !g.features_fault)) throw InputError(*g.fault);
  // Unique names.
  std::map<std::string, int> seen;
  for (Layer& l : layers) {
    const int k = seen[l.name]++;
    if (k > 0) l.name += "_" + std::to_string(k);
  }
  // Layer indices and slots.
  num_indices = 0;
  for (const Layer& l : layers) num_indices = std::max(num_indices, l.index + 1);
  std::vector<bool> taken(static_cast<size_t>(num_indices), false);
  int next = num_indices;
  for (size_t i = 0; i < layers.size(); ++i) {
    Layer& l = layers[i];
    const bool rules = carries_rule(l.kind) || (l.kind == LayerKind::BatchNorm2d && !foldable(i));
    if (!rules) {
      l.slot = -1;
    } else if (l.index >= 0 && !taken[static_cast<size_t>(l.index)]) {
      l.slot = l.index;
      taken[static_cast<size_t>(l.index)] = true;
    } else {
      l.slot = next++;
    }
  }
  num_slots = next;
  infer_resolutions(*this);
  choose_gates(*this, g);
}

std::vector<NodeSpec> Network::node_specs() const {
  auto param = [](const at::Tensor& t) {
    return t.defined() ? ParamShape{true, t.sizes().vec()} : ParamShape{};
  };
  std::vector<NodeSpec> out;
  for (const Layer& l : layers) {
    NodeSpec n;
    n.kind = l.kind;
    n.name = l.name;
    n.inputs = l.inputs;
    n.weight = param(l.weight);
    n.bias = l.has_bias ? param(l.bias) : ParamShape{};
    n.running_mean = param(l.running_mean);
    n.running_var = param(l.running_var);
    n.in_channels = l.in_channels;
    n.out_channels = l.out_channels;
    n.groups = l.groups;
    n.kernel = l.kernel;
    n.stride = l.stride;
    n.padding = l.padding;
    n.dilation = l.dilation;
    n.output_size = l.output_size;
    n.ceil_mode = l.ceil_mode;
    n.clamp_max = l.clamp_max;
    n.bn_eps = l.bn_eps;
    n.pad = l.pad;
    n.heads = l.heads;
    n.token = l.token;
    out.push_back(std::move(n));
  }
  return out;
}

GraphShapes Network::shapes_at(int64_t height, int64_t width) const {
  return infer_graph_shapes(node_specs(), {in_channels, height, width, true}, arch);
}

at::Tensor parameter_tensor(const at::Tensor& t, const std::string& what) {
  require(t.defined(), what + " is missing");
  require(t.layout() == at::kStrided && t.has_storage(),
          what + " is not a dense tensor (sparse or opaque)");
  require(at::isFloatingType(t.scalar_type()),
          what + " has dtype " + std::string(c10::toString(t.scalar_type())) +
              " (floating point expected)");
  int64_t n = 1;
  for (int64_t d : t.sizes()) {
    require(d >= 0 && (d == 0 || n <= kMaxParameterValues / d),
            what + " has shape " + std::string(c10::str(t.sizes())) + " (over " +
                std::to_string(kMaxParameterValues) + " values)");
    n *= d;
  }
  // A view repeating its storage (stride 0: torch's expand) would be copied into far more
  // memory than the file holds.
  if (n > 0 &&
      static_cast<uint64_t>(n) * t.element_size() > t.storage().nbytes())
    throw InputError(what + " has shape " + std::string(c10::str(t.sizes())) + " but stores " +
                     std::to_string(t.storage().nbytes() / std::max<size_t>(t.element_size(), 1)) +
                     " values (a repeating view)");
  at::Tensor out = t.detach().to(at::kFloat).contiguous();
  check_finite(out.data_ptr<float>(), static_cast<size_t>(out.numel()), what);
  return out;
}

ModelShape Network::shape() const {
  ModelShape m;
  m.arch = arch;
  m.num_indices = num_indices;
  m.num_slots = num_slots;
  m.by_index = !named;
  for (const Layer& l : layers) {
    m.layers.push_back({l.kind, l.index, l.name, l.slot, l.resolution, l.attention_projection});
    if (l.slot >= 0 && l.index < 0) m.by_index = false;
  }
  return m;
}

Network Network::to(const at::Device& dev) const {
  Network n = *this;
  for (Layer& l : n.layers) {
    for (at::Tensor* t : {&l.weight, &l.bias, &l.running_mean, &l.running_var})
      if (t->defined()) *t = t->to(dev);
  }
  return n;
}

at::Device Network::device() const {
  for (const Layer& l : layers)
    if (l.weight.defined()) return l.weight.device();
  return at::Device(at::kCPU);
}

void check_batchnorm_statistics(const Network& net) {
  for (const Layer& l : net.layers)
    if (l.kind == LayerKind::BatchNorm2d && l.running_var.defined())
      require((l.running_var + l.bn_eps > 0).all().item<bool>(),
              "model " + net.arch + ": BatchNorm '" + l.name +
                  "' has a running variance of at most -eps (its square root is not real)");
}

void check_input(const Network& net, const at::Tensor& x, const std::string& what) {
  require(x.dim() == 4,
          what + ": expected N x C x H x W input, got " + std::to_string(x.dim()) + " dimensions");
  require(x.size(1) == net.in_channels, what + ": model " + net.arch + " expects " +
                                            std::to_string(net.in_channels) +
                                            " channel(s), input has " + std::to_string(x.size(1)));
  if (net.fixed_size)
    require(x.size(2) == net.default_size && x.size(3) == net.default_size,
            what + ": " + net.arch + " expects " + std::to_string(net.default_size) + "x" +
                std::to_string(net.default_size) + " inputs, got " + std::to_string(x.size(2)) +
                "x" + std::to_string(x.size(3)));
  require(x.size(2) >= 8 && x.size(3) >= 8, what + ": input smaller than 8x8");
  const GraphShapes g = net.shapes_at(x.size(2), x.size(3));
  require(!g.fault, what + ": a " + std::to_string(x.size(2)) + "x" + std::to_string(x.size(3)) +
                        " input does not fit the model (" + g.fault.value_or("") + ")");
}

std::vector<int64_t> spatial_padding(const std::vector<int64_t>& torch_pads) {
  if (torch_pads.size() != 2 && torch_pads.size() != 4) return {};
  std::vector<int64_t> p = torch_pads;
  p.resize(4, 0);
  for (int64_t v : p)
    if (v < 0) return {};
  return p;
}

at::Tensor activation(Activation a, const at::Tensor& x) {
  switch (a) {
    case Activation::GeluErf: return at::gelu(x);
    case Activation::GeluTanh: return at::gelu(x, "tanh");
    case Activation::SiLU: return at::silu(x);
    case Activation::Sigmoid: return at::sigmoid(x);
    case Activation::Tanh: return at::tanh(x);
    case Activation::Hardswish: return at::hardswish(x);
    case Activation::Hardsigmoid: return at::hardsigmoid(x);
  }
  throw std::logic_error("unknown activation");
}

AttentionParts attention_parts(const at::Tensor& qkv, int64_t heads) {
  // N x T x 3D -> three N x H x T x d (torch's nn.MultiheadAttention packs q | k | v).
  const int64_t n = qkv.size(0), t = qkv.size(1), d = qkv.size(2) / 3 / heads;
  const at::Tensor split = qkv.reshape({n, t, 3, heads, d}).permute({2, 0, 3, 1, 4});
  AttentionParts p;
  p.q = split[0];
  p.k = split[1];
  p.v = split[2];
  p.scale = 1.0 / std::sqrt(static_cast<double>(d));
  p.attn = at::softmax(at::matmul(p.q * p.scale, p.k.transpose(-2, -1)), -1);
  return p;
}

at::Tensor merge_heads(const at::Tensor& o) {
  // N x H x T x d -> N x T x (H d)
  return o.transpose(1, 2).flatten(2);
}

at::Tensor forward_layer(const Layer& l, const at::Tensor& x) {
  if (node_kind_info(l.kind).several_inputs)
    throw std::logic_error("forward_layer on a node with several inputs");
  return node_ops(l.kind).forward(l, {x}, false);
}

at::Tensor forward(const Network& net, const at::Tensor& x, ForwardRecord* rec, bool train) {
  ForwardRecord local;
  ForwardRecord& r = rec ? *rec : local;
  r.input = x;
  r.outputs.assign(net.layers.size(), at::Tensor());
  if (rec) r.pool_indices.assign(net.layers.size(), at::Tensor());
  // Without a record, outputs are released once their last consumer has run.
  std::vector<int> pending = rec ? std::vector<int>() : net.consumers();
  for (size_t i = 0; i < net.layers.size(); ++i) {
    const Layer& l = net.layers[i];
    if (l.inputs.empty()) throw std::logic_error("forward: network " + net.arch + " not finalized");
    Inputs in;
    for (size_t k = 0; k < l.inputs.size(); ++k) in.push_back(r.in(net, i, k));
    if (rec && l.kind == LayerKind::MaxPool2d) {
      // The record keeps where each maximum was: LibTorch's kernel on contiguous NCHW takes the
      // first maximum in row-major window order (its channels-last kernel may not), and the
      // values it compares are the same in every batch (model/conv.h).
      auto [o, idx] = at::max_pool2d_with_indices(in[0].contiguous(), l.kernel, l.stride,
                                                  l.padding, l.dilation, l.ceil_mode);
      r.pool_indices[i] = idx;
      r.outputs[i] = o;
    } else {
      r.outputs[i] = node_ops(l.kind).forward(l, in, train);
    }
    if (!rec)
      for (int src : l.inputs)
        if (src != kNetworkInput && --pending[static_cast<size_t>(src)] == 0)
          r.outputs[static_cast<size_t>(src)] = at::Tensor();
  }
  r.logits = r.outputs.back();
  // Finite parameters, normalisation and inputs can still overflow float32 (a huge input, a
  // standard deviation of 1e-40): nothing downstream may score or explain such logits.
  if (!train && !at::isfinite(r.logits).all().item<bool>())
    throw InputError("model " + net.arch +
                     ": the logits are not finite (NaN or infinity) on this input: the "
                     "model's parameters, the normalisation or the input values overflow "
                     "float32");
  return r.logits;
}

}  // namespace lrpbench
