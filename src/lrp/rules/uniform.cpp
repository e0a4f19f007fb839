// The uniform rule on a product of two computed tensors: each operand receives half of the
// gradient (AttnLRP).
#include <ATen/ATen.h>

#include "lrp/node_gradients.h"
#include "lrp/propagation.h"

namespace lrpbench::rules {

std::vector<at::Tensor> node_uniform(const NodeCall& c) {
  const at::Tensor a = c.input(0), b = c.input(1);
  const auto [ga, gb] = product_gradients(a, b, c.grad_out() * 0.5);
  return {a * ga, b * gb};
}

}  // namespace lrpbench::rules
