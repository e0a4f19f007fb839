#include "model/canonize.h"

#include <ATen/ATen.h>

#include "util/error.h"

namespace lrpbench {

Network canonize(const Network& net) {
  Network out = net;
  out.layers.clear();
  for (const Layer& l : net.layers) {
    if (l.kind != LayerKind::BatchNorm2d) {
      out.layers.push_back(l);
      continue;
    }
    require(!out.layers.empty() && out.layers.back().kind == LayerKind::Conv2d,
            "layer " + l.name + ": BatchNorm2d must follow a Conv2d to be folded");
    Layer& c = out.layers.back();
    const at::Tensor scale = l.weight / at::sqrt(l.running_var + l.bn_eps);
    const at::Tensor bias = c.bias.defined() ? c.bias : at::zeros_like(l.running_mean);
    c.weight = c.weight * scale.view({-1, 1, 1, 1});
    c.bias = (bias - l.running_mean) * scale + l.bias;
  }
  out.canonical = true;
  return out;
}

}  // namespace lrpbench
