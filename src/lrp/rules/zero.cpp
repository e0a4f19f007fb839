// LRP-0 and LRP-epsilon: relevance in proportion to each input's share x w of z = W x + b
// (docs/method.md, "Rules"); epsilon only adds its stabilizer.
#include <ATen/ATen.h>

#include "lrp/propagation.h"

namespace lrpbench::rules {

at::Tensor linear_zero(const LinearCall& c) {  // LRP-0 and LRP-epsilon
  const at::Tensor s = c.div(c.plain_z());
  return mul_rows_(lin_t(c.l, s, plain(c.l), c.a), c.a, c.rows);
}

std::vector<at::Tensor> add_zero(const AddCall& c) {  // LRP-0 and LRP-epsilon
  const at::Tensor s = c.div(c.r, c.z);
  std::vector<at::Tensor> out;
  for (const at::Tensor& x : c.in) out.push_back(gather_rows(x, c.rows) * s);
  return out;
}

}  // namespace lrpbench::rules
