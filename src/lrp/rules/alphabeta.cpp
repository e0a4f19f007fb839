// alpha-beta: positive contributions weighted by alpha, negative ones by beta
// (docs/method.md, "Rules").
#include <ATen/ATen.h>

#include "lrp/propagation.h"

namespace lrpbench::rules {

at::Tensor linear_alphabeta(const LinearCall& c) {
  const Layer& l = c.l;
  const double alpha = c.rule.p1, beta = c.rule.p2;
  const at::Tensor ap = c.a.clamp_min(0), an = c.a.clamp_max(0);
  const Params wp_b = positive(l, true), wn_b = negative(l, true);
  const Params wp = positive(l, false), wn = negative(l, false);
  const at::Tensor sp = c.div(lin(l, ap, wp_b) + lin(l, an, wn));
  const at::Tensor sn = c.div(lin(l, ap, wn_b) + lin(l, an, wp));
  const at::Tensor gp = gather_rows(ap, c.rows), gn = gather_rows(an, c.rows);
  at::Tensor out = (gp * lin_t(l, sp, wp, c.a) + gn * lin_t(l, sp, wn, c.a)) * alpha;
  if (beta != 0.0) out = out - (gp * lin_t(l, sn, wn, c.a) + gn * lin_t(l, sn, wp, c.a)) * beta;
  return out;
}

std::vector<at::Tensor> add_alphabeta(const AddCall& c) {
  const std::vector<at::Tensor> pos = c.parts(true), neg = c.parts(false);
  const at::Tensor sp = c.div(c.r, AddCall::sum(pos)), sn = c.div(c.r, AddCall::sum(neg));
  std::vector<at::Tensor> out;
  for (size_t k = 0; k < c.in.size(); ++k)
    out.push_back(gather_rows(pos[k], c.rows) * sp * c.rule.p1 -
                  gather_rows(neg[k], c.rows) * sn * c.rule.p2);
  return out;
}

}  // namespace lrpbench::rules
