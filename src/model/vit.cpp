#include "model/vit.h"

#include <ATen/ATen.h>

namespace lrpbench {
namespace {

Layer node(LayerKind kind, std::string name, std::vector<int> inputs) {
  Layer l;
  l.kind = kind;
  l.name = std::move(name);
  l.inputs = std::move(inputs);
  return l;
}

// Appends a node; returns its position.
int add(Network& net, Layer l) {
  net.layers.push_back(std::move(l));
  return static_cast<int>(net.layers.size()) - 1;
}

Layer dense(std::string name, int input, int64_t in, int64_t out) {
  Layer l = node(LayerKind::Linear, std::move(name), {input});
  l.in_channels = in;
  l.out_channels = out;
  return l;
}

Layer layer_norm(std::string name, int input, int64_t d, double eps) {
  Layer l = node(LayerKind::Norm, std::move(name), {input});
  l.in_channels = l.out_channels = d;
  l.bn_eps = eps;
  return l;
}

}  // namespace

const std::vector<ViTConfig>& vit_configs() {
  static const std::vector<ViTConfig> configs = {
      {"vit_b_16", 224, 16, 3, 12, 12, 768, 3072, 1000, 1e-6},
      {"vit_b_32", 224, 32, 3, 12, 12, 768, 3072, 1000, 1e-6},
      {"vit_l_16", 224, 16, 3, 24, 16, 1024, 4096, 1000, 1e-6},
      {"vit_l_32", 224, 32, 3, 24, 16, 1024, 4096, 1000, 1e-6},
      {"fashion-vit", 28, 4, 1, 4, 4, 64, 128, 10, 1e-6},
  };
  return configs;
}

Network build_vit(const ViTConfig& c) {
  Network net;
  net.arch = c.arch;
  net.in_channels = c.channels;
  net.default_size = c.image;
  net.fixed_size = true;  // the positional embedding fixes the number of tokens
  net.named = true;
  net.num_classes = c.classes;
  if (c.channels == 1) {
    net.mean = {0.2860};
    net.std = {0.3530};
  } else {
    net.mean = {0.485, 0.456, 0.406};
    net.std = {0.229, 0.224, 0.225};
  }
  const int64_t d = c.hidden, side = c.image / c.patch, tokens = side * side + 1;
  Layer proj = node(LayerKind::Conv2d, "conv_proj", {kNetworkInput});
  proj.in_channels = c.channels;
  proj.out_channels = d;
  proj.kernel = proj.stride = {c.patch, c.patch};
  int x = add(net, proj);
  x = add(net, node(LayerKind::Tokens, "tokens", {x}));
  Layer cls = node(LayerKind::ClassToken, "class_token", {x});
  cls.in_channels = cls.out_channels = d;
  cls.weight_key = "class_token";
  x = add(net, cls);
  Layer pos = node(LayerKind::Scale, "encoder.pos_embedding", {x});
  pos.bias = at::zeros({1, tokens, d});  // placeholder: the shape the state dict must have
  pos.bias_key = "encoder.pos_embedding";
  x = add(net, pos);
  for (int64_t i = 0; i < c.layers; ++i) {
    const std::string p = "encoder.layers.encoder_layer_" + std::to_string(i) + ".";
    const int block_in = x;
    int h = add(net, layer_norm(p + "ln_1", x, d, c.eps));
    Layer in_proj = dense(p + "self_attention.in_proj", h, d, 3 * d);
    in_proj.attention_projection = true;
    in_proj.weight_key = p + "self_attention.in_proj_weight";
    in_proj.bias_key = p + "self_attention.in_proj_bias";
    h = add(net, in_proj);
    Layer attn = node(LayerKind::Attention, p + "self_attention", {h});
    attn.heads = c.heads;
    h = add(net, attn);
    Layer out_proj = dense(p + "self_attention.out_proj", h, d, d);
    out_proj.attention_projection = true;
    h = add(net, out_proj);
    x = add(net, node(LayerKind::Add, p + "add_1", {h, block_in}));
    const int mid = x;
    h = add(net, layer_norm(p + "ln_2", x, d, c.eps));
    h = add(net, dense(p + "mlp.0", h, d, c.mlp));
    Layer gelu = node(LayerKind::Act, p + "mlp.1", {h});
    gelu.activation = Activation::GeluErf;
    h = add(net, gelu);
    h = add(net, dense(p + "mlp.3", h, c.mlp, d));
    x = add(net, node(LayerKind::Add, p + "add_2", {h, mid}));
  }
  x = add(net, layer_norm("encoder.ln", x, d, c.eps));
  x = add(net, node(LayerKind::Select, "class_output", {x}));
  add(net, dense("heads.head", x, d, c.classes));
  net.finalize();
  return net;
}

}  // namespace lrpbench
