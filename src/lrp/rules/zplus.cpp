// z+: relevance in proportion to the positive contributions only (docs/method.md, "Rules").
#include <ATen/ATen.h>

#include "lrp/propagation.h"

namespace lrpbench::rules {

at::Tensor linear_zplus(const LinearCall& c) {
  const Layer& l = c.l;
  const at::Tensor ap = c.a.clamp_min(0), an = c.a.clamp_max(0);
  const Params wp = positive(l, true), wn = negative(l, false);
  const at::Tensor s = c.div(lin(l, ap, wp) + lin(l, an, wn));
  return gather_rows(ap, c.rows) * lin_t(l, s, wp, c.a) + gather_rows(an, c.rows) * lin_t(l, s, wn, c.a);
}

std::vector<at::Tensor> add_zplus(const AddCall& c) {
  const std::vector<at::Tensor> pos = c.parts(true);
  const at::Tensor s = c.div(c.r, AddCall::sum(pos));
  std::vector<at::Tensor> out;
  for (const at::Tensor& x : pos) out.push_back(gather_rows(x, c.rows) * s);
  return out;
}

}  // namespace lrpbench::rules
