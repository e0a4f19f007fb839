#include "model/canonize.h"

#include <ATen/ATen.h>

#include "util/error.h"

namespace lrpbench {

Network canonize(const Network& net) {
  check_batchnorm_statistics(net);
  Network out = net;
  out.layers.clear();
  // new_pos[i]: position in out.layers of what node i's consumers now read.
  std::vector<int> new_pos(net.layers.size(), kNetworkInput);
  for (size_t i = 0; i < net.layers.size(); ++i) {
    Layer l = net.layers[i];
    for (int& src : l.inputs)
      if (src != kNetworkInput) src = new_pos[static_cast<size_t>(src)];
    if (l.kind != LayerKind::BatchNorm2d) {
      out.layers.push_back(l);
      new_pos[i] = static_cast<int>(out.layers.size()) - 1;
      continue;
    }
    const at::Tensor scale = l.weight / at::sqrt(l.running_var + l.bn_eps);
    if (net.foldable(i)) {
      Layer& c = out.layers[static_cast<size_t>(l.inputs[0])];
      const at::Tensor bias = c.bias.defined() ? c.bias : at::zeros_like(l.running_mean);
      std::vector<int64_t> view(static_cast<size_t>(c.weight.dim()), 1);
      view[0] = -1;
      c.weight = c.weight * scale.view(view);
      c.bias = (bias - l.running_mean) * scale + l.bias;
      c.has_bias = true;
      new_pos[i] = l.inputs[0];
      continue;
    }
    l.bias = l.bias - l.running_mean * scale;
    l.weight = scale;
    l.running_mean = at::Tensor();
    l.running_var = at::Tensor();
    out.layers.push_back(l);
    new_pos[i] = static_cast<int>(out.layers.size()) - 1;
  }
  out.canonical = true;
  return out;
}

}  // namespace lrpbench
