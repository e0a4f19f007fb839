#include "model/network.h"

#include <ATen/ATen.h>

#include "util/error.h"

namespace lrpbench {

int Network::position_of(int index) const {
  for (size_t i = 0; i < layers.size(); ++i)
    if (layers[i].index == index) return static_cast<int>(i);
  return -1;
}

std::vector<int> Network::linear_indices() const {
  std::vector<int> out;
  for (const Layer& l : layers)
    if (is_linear(l.kind)) out.push_back(l.index);
  return out;
}

ModelShape Network::shape() const {
  ModelShape m;
  m.arch = arch;
  m.num_indices = num_indices;
  for (const Layer& l : layers) m.layers.push_back({l.kind, l.index});
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

void check_input(const Network& net, const at::Tensor& x, const std::string& what) {
  require(x.dim() == 4,
          what + ": expected N x C x H x W input, got " + std::to_string(x.dim()) + " dimensions");
  require(x.size(1) == net.in_channels, what + ": model " + net.arch + " expects " +
                                            std::to_string(net.in_channels) +
                                            " channel(s), input has " + std::to_string(x.size(1)));
  if (net.arch == "fashion-vgg")
    require(x.size(2) == 28 && x.size(3) == 28, what + ": fashion-vgg expects 28x28 inputs, got " +
                                                    std::to_string(x.size(2)) + "x" +
                                                    std::to_string(x.size(3)));
  require(x.size(2) >= 8 && x.size(3) >= 8, what + ": input smaller than 8x8");
}

at::Tensor forward_layer(const Layer& l, const at::Tensor& x) {
  switch (l.kind) {
    case LayerKind::Conv2d:
      return at::conv2d(x, l.weight, l.bias, l.stride, l.padding, l.dilation);
    case LayerKind::Linear:
      return at::linear(x, l.weight, l.bias);
    case LayerKind::ReLU:
      return at::relu(x);
    case LayerKind::MaxPool2d:
      return at::max_pool2d(x, l.kernel, l.stride, l.padding, l.dilation, l.ceil_mode);
    case LayerKind::AvgPool2d:
      return at::avg_pool2d(x, l.kernel, l.stride, l.padding, l.ceil_mode);
    case LayerKind::AdaptiveAvgPool2d:
      if (x.size(2) == l.output_size[0] && x.size(3) == l.output_size[1]) return x;
      return at::adaptive_avg_pool2d(x, l.output_size);
    case LayerKind::Flatten:
      return x.flatten(1);
    case LayerKind::Dropout:
      return x;
    case LayerKind::BatchNorm2d:
      return at::batch_norm(x, l.weight, l.bias, l.running_mean, l.running_var, false, 0.0,
                            l.bn_eps, false);
  }
  return x;
}

at::Tensor forward(const Network& net, const at::Tensor& x, ForwardRecord* rec) {
  if (rec) {
    rec->inputs.assign(net.layers.size(), at::Tensor());
    rec->outputs.assign(net.layers.size(), at::Tensor());
    rec->pool_indices.assign(net.layers.size(), at::Tensor());
  }
  at::Tensor h = x;
  for (size_t i = 0; i < net.layers.size(); ++i) {
    const Layer& l = net.layers[i];
    if (l.kind == LayerKind::Linear && h.dim() != 2) h = h.flatten(1);
    if (l.kind == LayerKind::Linear)
      require(h.size(1) == l.in_channels, "layer " + l.name + " (index " + std::to_string(l.index) +
                                              ") expects " + std::to_string(l.in_channels) +
                                              " input features, got " + std::to_string(h.size(1)) +
                                              ": wrong input size for this model");
    if (rec) rec->inputs[i] = h;
    at::Tensor out;
    if (rec && l.kind == LayerKind::MaxPool2d) {
      auto [o, idx] =
          at::max_pool2d_with_indices(h, l.kernel, l.stride, l.padding, l.dilation, l.ceil_mode);
      rec->pool_indices[i] = idx;
      out = o;
    } else {
      out = forward_layer(l, h);
    }
    if (rec && is_linear(l.kind)) rec->outputs[i] = out;
    h = out;
  }
  if (rec) rec->logits = h;
  return h;
}

}  // namespace lrpbench
