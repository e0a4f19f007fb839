#include "model/onnx_graph.h"

#include <ATen/ATen.h>

namespace lrpbench {
namespace {

at::Tensor tensor_of(const OnnxParam& p) {
  if (!p.defined) return {};
  return at::from_blob(const_cast<float*>(p.values.data()), p.dims, at::kFloat).clone();
}

Layer layer_of(const OnnxNode& n) {
  const NodeSpec& s = n.spec;
  Layer l;
  l.kind = s.kind;
  l.name = s.name;
  l.inputs = s.inputs;
  l.weight = tensor_of(n.weight);
  l.bias = tensor_of(n.bias);
  l.running_mean = tensor_of(n.running_mean);
  l.running_var = tensor_of(n.running_var);
  l.has_bias = n.bias.defined;
  l.bn_eps = s.bn_eps;
  l.in_channels = s.in_channels;
  l.out_channels = s.out_channels;
  l.groups = s.groups;
  l.kernel = s.kernel;
  l.stride = s.stride;
  l.padding = s.padding;
  l.dilation = s.dilation;
  l.output_size = s.output_size;
  l.ceil_mode = s.ceil_mode;
  l.clamp_max = s.clamp_max;
  l.pad = s.pad;
  l.heads = s.heads;
  l.token = s.token;
  l.activation = n.activation;
  l.attention_projection = n.attention_projection;
  return l;
}

}  // namespace

Network read_onnx_graph(const std::string& bytes, const std::string& path) {
  const OnnxGraph g = parse_onnx_graph(bytes, path);
  Network net;
  net.arch = path;
  net.in_channels = g.in_channels;
  if (g.size > 0) {
    net.default_size = g.size;
    net.fixed_size = true;
  }
  for (const OnnxNode& n : g.nodes) net.layers.push_back(layer_of(n));
  return net;
}

}  // namespace lrpbench
