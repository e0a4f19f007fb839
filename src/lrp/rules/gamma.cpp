// zennit's generalised LRP-gamma (docs/method.md, "LRP-gamma"): positive contributions
// weighted up by gamma, on inputs and units of both signs.
#include <ATen/ATen.h>

#include "lrp/propagation.h"
#include "util/error.h"

namespace lrpbench::rules {

namespace {

// The generalised gamma on a dense layer whose inputs have both signs, by algebra (docs/method.md,
// "LRP-gamma"): with x = x+ + x-, |x| = x+ - x- and |W| = W+ - W-,
//   W+ x+ + W- x- = (|W||x| + W x) / 2,  W- x+ + W+ x- = (W x - |W||x|) / 2,
// so both denominators come from the recorded z = W x + b and one product |W||x|: with
//   p = (|W||x| + z - b) / 2 + b+ (W+ x+ + W- x- + b+),
//   z^ = z + g p,  zv = z + g (z - p)   (as for inputs >= 0, with p in place of W+ x + b+),
// and what x receives, x+ (W^T s+ + Wv^T s-) + x- (Wv^T s+ + W^T s-), is
//   (1 + g/2) x W^T (s+ + s-) + g/2 |x| |W|^T (s+ - s-):
// 1 + 2 products where the four-term form needs 4 + 4 (zennit's).
at::Tensor dense_gamma_signed(const Layer& l, const Rule& rule, const at::Tensor& a,
                              const at::Tensor& z, const at::Tensor& r, const at::Tensor& rows) {
  const double g = rule.p1, eps = rule.eps();
  const at::Tensor ax = a.abs();
  const Params abs_w = modified(l, WeightOp::Abs, 0.0, [&l] { return l.weight.abs(); }, {});
  at::Tensor p = lin(l, ax, abs_w).add_(z).mul_(0.5);  // (|W||x| + z) / 2, one row per image
  if (l.bias.defined()) p.add_(unit_bias(l, l.bias.clamp_min(0) - l.bias * 0.5));
  const at::Tensor q = gamma_quotients(r, z, p, g, eps, rule.stab, rows);  // s+, s- stacked
  const at::Tensor sp = q.select(1, 0), sn = q.select(1, 1);
  const at::Tensor both = lin_t(l, (sp + sn).contiguous(), plain(l), a);
  const at::Tensor diff = lin_t(l, (sp - sn).contiguous(), abs_w, a);
  return gather_rows(a, rows) * both * (1.0 + g / 2) + gather_rows(ax, rows) * diff * (g / 2);
}

// zennit's generalised gamma (docs/method.md, "LRP-gamma"). With inputs >= 0 and relevance
// only on units with z > 0 (every VGG conv) it is the plain rule w + g w+, computed exactly
// as before; the terms for negative inputs and for units with z < 0 are added only where
// they are not zero. `nonneg`: the caller knows a >= 0 (no reduction to find out).
at::Tensor propagate_gamma(const Layer& l, const Rule& rule, const at::Tensor& a,
                           const at::Tensor& z, const at::Tensor& r, const at::Tensor& rows,
                           bool nonneg) {
  const double g = rule.p1, eps = rule.eps();
  // z and a stay one row per image: the kernels read the rows of `rows` in place.
  std::vector<int64_t> row_shape = r.sizes().vec();
  row_shape[0] = z.size(0);
  const at::Tensor zs = z.reshape(row_shape);
  const bool negative_inputs = !nonneg && a.min().item<double>() < 0;
  const bool negative_units = relevance_on_nonpositive(r, zs, rows);
  const Params hat = gamma_params(l, g);
  if (!negative_inputs && !negative_units) {
    const at::Tensor s = stabilized_divide(r, lin(l, a, hat), eps, rule.stab, rows);
    return mul_rows_(lin_t(l, s, hat, a), a, rows);  // in place: one buffer less
  }
  const Params vee = gamma_neg_params(l, g);
  if (!negative_inputs && !is_pool(l)) {
    // x >= 0: both denominators from one conv with W+ and the recorded z = W x + b:
    // W^ x + b^ = z + g (W+ x + b+), Wv x + bv = z + g (z - W+ x - b+).
    at::Tensor pz = lin(l, a, positive(l, false));
    if (l.bias.defined()) pz = pz + unit_bias(l, l.bias.clamp_min(0));
    const at::Tensor q =  // rows x 2 x C x ...: s+ and s- side by side
        gamma_quotients(r, zs, pz.reshape(row_shape), g, eps, rule.stab, rows);
    if (l.groups != 1 || a.dim() == 3)  // stacked units: conv channels, dense features
      return gather_rows(a, rows) *
             (lin_t(l, q.select(1, 0), hat, a) + lin_t(l, q.select(1, 1), vee, a));
    // W^T s+ + Wv^T s- as one transposed pass over the stacked units [W^; Wv].
    const Params both = modified(l, WeightOp::HatVee, g, [&l, g] {
      return at::cat({l.weight + l.weight.clamp_min(0) * g, l.weight + l.weight.clamp_max(0) * g});
    }, {});
    return mul_rows_(lin_t(l, q.flatten(1, 2), both, a), a, rows);
  }
  if (l.kind == LayerKind::Linear) return dense_gamma_signed(l, rule, a, zs, r, rows);
  const at::Tensor zr = gather_rows(zs, rows);
  const at::Tensor rp = at::where(zr > 0, r, at::zeros_like(r));
  const at::Tensor rn = at::where(zr < 0, r, at::zeros_like(r));
  // Without negative inputs x+ is x and x- never used: no copies on the common path.
  const at::Tensor ap = negative_inputs ? a.clamp_min(0) : a;
  const at::Tensor an = negative_inputs ? a.clamp_max(0) : at::Tensor();
  const Params hat_w = gamma_params(l, g, false), vee_w = gamma_neg_params(l, g, false);
  // s+ = [z > 0] R / stab(W^ x+ + Wv x- + b^), s- = [z < 0] R / stab(Wv x+ + W^ x- + bv).
  at::Tensor zp = lin(l, ap, hat);
  if (negative_inputs) zp = zp + lin(l, an, vee_w);
  const at::Tensor sp = stabilized_divide(rp, gather_rows(zp, rows), eps, rule.stab);
  at::Tensor cp = lin_t(l, sp, hat, a), cn;  // what x+ and x- receive
  if (negative_inputs) cn = lin_t(l, sp, vee, a);
  at::Tensor zn = lin(l, ap, vee);
  if (negative_inputs) zn = zn + lin(l, an, hat_w);
  const at::Tensor sn = stabilized_divide(rn, gather_rows(zn, rows), eps, rule.stab);
  cp = cp + lin_t(l, sn, vee, a);
  if (negative_inputs) cn = cn + lin_t(l, sn, hat, a);
  at::Tensor out = gather_rows(ap, rows) * cp;
  if (negative_inputs) out = out + gather_rows(an, rows) * cn;
  return out;
}

}  // namespace

at::Tensor linear_gamma(const LinearCall& c) {
  return propagate_gamma(c.l, c.rule, c.a, c.plain_z(), c.r, c.rows, c.nonneg);
}

std::vector<at::Tensor> add_gamma(const AddCall& c) {  // W = 1: W^ = 1 + g, Wv = 1
  const double g = c.rule.p1;
  const std::vector<at::Tensor> pos = c.parts(true), neg = c.parts(false);
  const at::Tensor sp_ = AddCall::sum(pos), sn_ = AddCall::sum(neg);
  const at::Tensor zr = gather_rows(c.z, c.rows).reshape(c.r.sizes());
  const at::Tensor sp = c.div(at::where(zr > 0, c.r, at::zeros_like(c.r)), sp_ * (1 + g) + sn_);
  const at::Tensor sn = c.div(at::where(zr < 0, c.r, at::zeros_like(c.r)), sp_ + sn_ * (1 + g));
  std::vector<at::Tensor> out;
  for (size_t k = 0; k < c.in.size(); ++k)
    out.push_back(gather_rows(pos[k], c.rows) * (sp * (1 + g) + sn) +
                  gather_rows(neg[k], c.rows) * (sp + sn * (1 + g)));
  return out;
}

}  // namespace lrpbench::rules
