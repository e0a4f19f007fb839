// AttnLRP's attention rule: the uniform rule on both products (A v: each operand half; q k^T:
// each half again, so q and k receive the gradient / 4, v / 2) and the softmax by its exact
// gradient.
#include <ATen/ATen.h>

#include "lrp/node_gradients.h"
#include "lrp/propagation.h"

namespace lrpbench::rules {

std::vector<at::Tensor> node_attnlrp(const NodeCall& c) {
  const at::Tensor qkv = c.input(0);
  return {qkv * attention_gradient(c.l, qkv, c.grad_out(), 0.5, 0.5, 0.5)};
}

}  // namespace lrpbench::rules
