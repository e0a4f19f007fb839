#pragma once
// What every rule's propagation is built from (internal to lrp: the engine and the rule files
// in src/lrp/rules/ include it): a layer's parameters under weight modifiers, its forward and
// transposed linear maps, the call each rule receives, and the table that registers each
// rule's propagation. A new rule is one file in src/lrp/rules/ with its functions, one row
// in propagation.cpp's table, and its RuleInfo row in lrp/rule.cpp (the grammar's half,
// which builds without LibTorch).
#include <ATen/core/Tensor.h>

#include <functional>
#include <vector>

#include "lrp/rule.h"
#include "lrp/stabilizer.h"
#include "lrp/weight_cache.h"
#include "model/network.h"

namespace lrpbench::rules {

// A linear layer's parameters under a weight modifier. Pooling layers have no weight
// tensor: their modified "weights" are the pooling weights times `scale`. A modified weight
// (`make`, named by op and g) comes from the weight cache when first asked for: the
// transpose of a stride-1 conv needs only its flipped form, so the weight itself is then
// never built or kept.
struct Params {
  Params(at::Tensor w_, at::Tensor b_, double scale_)
      : w(std::move(w_)), b(std::move(b_)), scale(scale_) {}

  at::Tensor w, b;
  double scale = 1.0;
  std::function<at::Tensor()> make;
  WeightOp op = WeightOp::Plain;
  double g = 0.0;
  at::Tensor base;  // the layer's weight, the cache key of a modified one

  at::Tensor weight() const { return make ? cached_weight(base, op, g, make) : w; }
  // The flipped, transposed kernel (cached for the layer's own and modified weights).
  at::Tensor flipped_weight() const {
    // Contiguous: oneDNN reorders a strided kernel on every call (5x the conv itself on
    // ResNet-50's last block); the values, and so the results, are the same.
    auto flip = [this] { return (make ? make() : w).transpose(0, 1).flip({2, 3}).contiguous(); };
    if (make || (base.defined() && w.is_same(base)))
      return cached_weight(base, flipped(op), g, flip);
    return flip();
  }
};

// Average pools (their "weights" are 1/k, times Params::scale).
bool is_pool(const Layer& l);
// Number of inputs averaged by one pooling output (its weight is 1/k).
double pool_size(const Layer& l, const at::Tensor& a);
// The layer's own weight and bias.
Params plain(const Layer& l);
// The layer's weight under the modifier `make` (named by op and g); built lazily.
Params modified(const Layer& l, WeightOp op, double g, std::function<at::Tensor()> make,
                at::Tensor bias);
// W+ (and b+ when `bias`); W- (and b-).
Params positive(const Layer& l, bool bias);
Params negative(const Layer& l, bool bias);
// W^ = W + g W+ (and b^ = b + g b+ when `bias`).
Params gamma_params(const Layer& l, double g, bool bias = true);
// Wv = W + g W- (and bv = b + g b- when `bias`): pooling weights are positive, so Wv = W.
Params gamma_neg_params(const Layer& l, double g, bool bias = true);
// Unit weights (flat) and squared weights (wsquare), without bias.
Params ones_params(const Layer& l, const at::Tensor& a);
Params square_params(const Layer& l, const at::Tensor& a);
// z = x W + b under the given parameters.
at::Tensor lin(const Layer& l, const at::Tensor& x, const Params& p);
// c = W^T s: the gradient of lin with respect to its input, for inputs shaped like `a`
// but with s.size(0) rows.
at::Tensor lin_t(const Layer& l, const at::Tensor& s, const Params& p, const at::Tensor& a);
// a's shape filled with one value per channel.
at::Tensor channel_bounds(const at::Tensor& a, const std::vector<double>& v);
// Broadcasts a per-output-unit bias over z's shape.
at::Tensor unit_bias(const Layer& l, const at::Tensor& b);

// One call of a rule on a node with weights or a pooling: the layer, the (normalised) rule,
// the layer's input a, its plain output z (may be undefined), the relevance r at its output,
// the image of each row, the zbox bounds and whether a >= 0 is known from the graph.
struct LinearCall {
  const Layer& l;
  const Rule& rule;
  const at::Tensor& a;
  const at::Tensor& z;
  const at::Tensor& r;
  const at::Tensor& rows;
  const std::vector<double>& lo;
  const std::vector<double>& hi;
  bool nonneg;

  // r / stab(zz) for zz with a's rows (gathered to r's).
  at::Tensor div(const at::Tensor& zz) const;
  at::Tensor plain_z() const;  // z, or W a + b where z is undefined
};

// One call of a rule on an add node (unit weights, no bias): the (normalised) rule, the
// node's inputs, its output z, the relevance r at its output and the image of each row; the
// inputs' positive and negative parts are made by parts(), by the rules that need them.
struct AddCall {
  const Rule& rule;
  const std::vector<at::Tensor>& in;
  const at::Tensor& z;
  const at::Tensor& r;
  const at::Tensor& rows;

  // num / stab(den) for den with the inputs' rows (gathered to num's).
  at::Tensor div(const at::Tensor& num, const at::Tensor& den) const;
  std::vector<at::Tensor> parts(bool positive) const;  // clamp_min(0) / clamp_max(0) of each input
  static at::Tensor sum(const std::vector<at::Tensor>& v);
};

// One call of a rule on a transformer node with a rule of its own (norm, act, attention,
// product): the node, the (normalised) rule, its inputs and output (one row per image), the
// relevance r at its output and the image of each row. The rules work in gradient x input
// form (docs/method.md, "Transformers"): g_y = r / y (0 where y = 0), then each input x gets
// x * g_x.
struct NodeCall {
  const Layer& l;
  const Rule& rule;
  const std::vector<at::Tensor>& in;
  const at::Tensor& z;
  const at::Tensor& r;
  const at::Tensor& rows;

  at::Tensor input(size_t k) const;  // in[k] for the rows
  at::Tensor output() const;         // z for the rows
  at::Tensor grad_out() const;       // g_y = r / z, 0 where z = 0
};

using LinearRule = at::Tensor (*)(const LinearCall&);
using AddRule = std::vector<at::Tensor> (*)(const AddCall&);
using NodeRule = std::vector<at::Tensor> (*)(const NodeCall&);

// The engine's half of a rule's registration (lrp/rule.h has the grammar's): how it moves
// relevance through a node with weights or a pooling, and through an add node (null where
// the rule does not apply there: rule_applies refuses it before the engine runs).
struct Propagation {
  LinearRule linear;
  AddRule add;
  NodeRule node = nullptr;  // norm, act, attention, product (null: none of them)
};
// The row of a normalised rule; throws std::logic_error for a rule without one.
const Propagation& propagation(const Rule& rule);

// The rules' functions, one file each in src/lrp/rules/.
at::Tensor linear_zero(const LinearCall& c);  // LRP-0 and LRP-epsilon (zero.cpp)
std::vector<at::Tensor> add_zero(const AddCall& c);
at::Tensor linear_gamma(const LinearCall& c);  // generalised LRP-gamma (gamma.cpp)
std::vector<at::Tensor> add_gamma(const AddCall& c);
at::Tensor linear_zbox(const LinearCall& c);  // z^B, first layer (zbox.cpp)
at::Tensor linear_zplus(const LinearCall& c);  // z+ (zplus.cpp)
std::vector<at::Tensor> add_zplus(const AddCall& c);
at::Tensor linear_alphabeta(const LinearCall& c);  // alpha-beta (alphabeta.cpp)
std::vector<at::Tensor> add_alphabeta(const AddCall& c);
at::Tensor linear_spread(const LinearCall& c);  // flat and wsquare (spread.cpp)
std::vector<at::Tensor> add_spread(const AddCall& c);
at::Tensor linear_pass(const LinearCall& c);  // pass (pass.cpp)
std::vector<at::Tensor> node_identity(const NodeCall& c);  // norm, act (identity.cpp)
std::vector<at::Tensor> node_grad(const NodeCall& c);      // exact gradient (grad.cpp)
std::vector<at::Tensor> node_attnlrp(const NodeCall& c);   // attention (attnlrp.cpp)
std::vector<at::Tensor> node_cp(const NodeCall& c);        // attention (cp.cpp)
std::vector<at::Tensor> node_uniform(const NodeCall& c);   // product (uniform.cpp)
std::vector<at::Tensor> node_gate(const NodeCall& c);      // product (gate.cpp)

}  // namespace lrpbench::rules
