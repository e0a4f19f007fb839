// The grad rule: the node's exact gradient (gradient x input at its inputs). With grad on every
// transformer node and zero(stab=none) on the linear ones, an explanation is gradient x input.
#include <ATen/ATen.h>

#include <stdexcept>

#include "lrp/node_gradients.h"
#include "lrp/propagation.h"

namespace lrpbench::rules {

std::vector<at::Tensor> node_grad(const NodeCall& c) {
  const at::Tensor g = c.grad_out();
  switch (c.l.kind) {
    case LayerKind::Norm: {
      const at::Tensor x = c.input(0);
      return {x * norm_gradient(c.l, x, g, false)};
    }
    case LayerKind::Act: {
      const at::Tensor x = c.input(0);
      return {x * act_gradient(c.l, x, c.output(), g)};
    }
    case LayerKind::Attention: {
      const at::Tensor qkv = c.input(0);
      return {qkv * attention_gradient(c.l, qkv, g, 1.0, 1.0, 1.0)};
    }
    case LayerKind::Product: {
      const at::Tensor a = c.input(0), b = c.input(1);
      const auto [ga, gb] = product_gradients(a, b, g);
      return {a * ga, b * gb};
    }
    default:
      throw std::logic_error("grad on a node kind without a gradient");
  }
}

}  // namespace lrpbench::rules
