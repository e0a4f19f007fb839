// flat and wsquare: relevance spread by unit or squared weights alone, independent of the
// input (docs/method.md, "Rules").
#include <ATen/ATen.h>

#include "lrp/propagation.h"

namespace lrpbench::rules {

// flat (unit weights) and wsquare (squared weights): relevance spread by the modified
// weights alone, independent of the input.
at::Tensor linear_spread(const LinearCall& c) {
  const at::Tensor ones = at::ones_like(c.a.narrow(0, 0, 1));
  const Params p = c.rule.kind == RuleKind::Flat ? ones_params(c.l, c.a) : square_params(c.l, c.a);
  const at::Tensor zz = lin(c.l, ones, p);  // one image: the same for every row
  const at::Tensor s = stabilized_divide(c.r, zz.expand_as(c.r), c.rule.eps(), c.rule.stab);
  return lin_t(c.l, s, p, c.a);
}

std::vector<at::Tensor> add_spread(const AddCall& c) {  // flat and wsquare: equal shares
  const at::Tensor count = at::full_like(c.r, static_cast<double>(c.in.size()));
  const at::Tensor s = stabilized_divide(c.r, count, c.rule.eps(), c.rule.stab);
  return std::vector<at::Tensor>(c.in.size(), s);
}

}  // namespace lrpbench::rules
