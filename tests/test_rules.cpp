// Every rule against a dense-matrix reference on tiny layers built by hand (SPEC section 2).
#include <gtest/gtest.h>

#include <set>

#include "helpers.h"
#include "lrp/engine.h"
#include "lrp/propagation.h"
#include "lrp/rule.h"
#include "lrp/stabilizer.h"

namespace lrpbench {
namespace {

const at::TensorOptions kD = at::TensorOptions().dtype(at::kDouble);

Rule rule(RuleKind k, double p1 = 0, double p2 = 0, Stabilizer s = Stabilizer::Sign) {
  Rule r;
  r.kind = k;
  r.p1 = p1;
  r.p2 = p2;
  r.stab = s;
  return r;
}

// The layer as a dense matrix: column j = the layer (no bias) applied to basis vector j.
at::Tensor dense_matrix(const Layer& l, const at::Tensor& a) {
  const int64_t n = a.numel();
  const at::Tensor basis = at::eye(n, kD).view({n, a.size(1), a.size(2), a.size(3)});
  Layer nb = l;
  nb.bias = at::Tensor();
  return forward_layer(nb, basis).reshape({n, -1}).t().contiguous();
}

// Dense reference of SPEC's formulas. W: out x in, b: out, x: in, r: out.
at::Tensor reference(const Rule& ru, const at::Tensor& W, const at::Tensor& b, const at::Tensor& x,
                     const at::Tensor& r, const at::Tensor& lo, const at::Tensor& hi) {
  auto mv = [](const at::Tensor& m, const at::Tensor& v) { return m.mv(v); };
  auto div = [&](const at::Tensor& z) {
    return stabilized_divide(r.view({1, -1}), z.view({1, -1}), ru.eps(), ru.stab).view({-1});
  };
  const at::Tensor Wp = W.clamp_min(0), Wn = W.clamp_max(0);
  const at::Tensor xp = x.clamp_min(0), xn = x.clamp_max(0);
  switch (ru.kind) {
    case RuleKind::Zero:
    case RuleKind::Epsilon: {
      const at::Tensor s = div(mv(W, x) + b);
      return x * mv(W.t(), s);
    }
    case RuleKind::Gamma: {
      // The generalised gamma: W^ = W + g W+, Wv = W + g W- (biases likewise); relevance
      // of units with z > 0 through W^ x+ + Wv x-, of units with z < 0 through Wv x+ + W^ x-.
      const double g = ru.p1;
      const at::Tensor Wh = W + Wp * g, Wv = W + Wn * g;
      const at::Tensor bh = b + b.clamp_min(0) * g, bv = b + b.clamp_max(0) * g;
      const at::Tensor z = mv(W, x) + b;
      auto div_masked = [&](const at::Tensor& mask, const at::Tensor& den) {
        return stabilized_divide((r * mask).view({1, -1}), den.view({1, -1}), ru.eps(), ru.stab)
            .view({-1});
      };
      const at::Tensor sp = div_masked((z > 0).to(at::kDouble), mv(Wh, xp) + mv(Wv, xn) + bh);
      const at::Tensor sn = div_masked((z < 0).to(at::kDouble), mv(Wv, xp) + mv(Wh, xn) + bv);
      return xp * (mv(Wh.t(), sp) + mv(Wv.t(), sn)) + xn * (mv(Wv.t(), sp) + mv(Wh.t(), sn));
    }
    case RuleKind::Pass:
      return r;
    case RuleKind::ZBox: {
      const at::Tensor s = div(mv(W, x) - mv(Wp, lo) - mv(Wn, hi));
      return x * mv(W.t(), s) - lo * mv(Wp.t(), s) - hi * mv(Wn.t(), s);
    }
    case RuleKind::ZPlus: {
      const at::Tensor s = div(mv(Wp, xp) + mv(Wn, xn) + b.clamp_min(0));
      return xp * mv(Wp.t(), s) + xn * mv(Wn.t(), s);
    }
    case RuleKind::AlphaBeta: {
      const at::Tensor sp = div(mv(Wp, xp) + mv(Wn, xn) + b.clamp_min(0));
      const at::Tensor sn = div(mv(Wn, xp) + mv(Wp, xn) + b.clamp_max(0));
      return (xp * mv(Wp.t(), sp) + xn * mv(Wn.t(), sp)) * ru.p1 -
             (xp * mv(Wn.t(), sn) + xn * mv(Wp.t(), sn)) * ru.p2;
    }
    case RuleKind::Flat: {
      const at::Tensor M = (W != 0).to(at::kDouble);
      return mv(M.t(), div(mv(M, at::ones_like(x))));
    }
    case RuleKind::WSquare: {
      const at::Tensor M = W * W;
      return mv(M.t(), div(mv(M, at::ones_like(x))));
    }
  }
  return {};
}

std::vector<Rule> all_rules() {
  return {rule(RuleKind::Zero),
          rule(RuleKind::Zero, 0, 0, Stabilizer::None),
          rule(RuleKind::Epsilon, 0.3),
          rule(RuleKind::Epsilon, 0.3, 0, Stabilizer::Vanilla),
          rule(RuleKind::Epsilon, 0.3, 0, Stabilizer::Quadratic),
          rule(RuleKind::Epsilon, 0.3, 0, Stabilizer::Reference),
          rule(RuleKind::Gamma, 0.7),
          rule(RuleKind::ZBox),
          rule(RuleKind::ZPlus),
          rule(RuleKind::AlphaBeta, 2, 1),
          rule(RuleKind::AlphaBeta, 1.5, 0.5),
          rule(RuleKind::Flat),
          rule(RuleKind::WSquare)};
}

struct Case {
  Layer layer;
  at::Tensor a;
};

void check_layer(const Case& c) {
  at::Generator gen = at::detail::createCPUGenerator(7);
  const std::vector<double> lo = {-1.5, -2.0}, hi = {2.5, 1.0};
  const at::Tensor z = forward_layer(c.layer, c.a);
  const at::Tensor r = at::randn(z.sizes(), gen, kD);
  at::Tensor W, b;
  if (c.layer.kind == LayerKind::Linear) {
    W = c.layer.weight;
    b = c.layer.bias;
  } else {
    W = dense_matrix(c.layer, c.a);
    b = c.layer.bias.defined()
            ? c.layer.bias.view({-1, 1}).expand({z.size(1), z.size(2) * z.size(3)}).reshape({-1})
            : at::zeros({W.size(0)}, kD);
  }
  const at::Tensor x = c.a.reshape({-1});
  at::Tensor lo_t, hi_t;
  if (c.a.dim() == 4) {
    const int64_t hw = c.a.size(2) * c.a.size(3);
    lo_t = at::tensor(lo, kD).view({-1, 1}).expand({2, hw}).reshape({-1});
    hi_t = at::tensor(hi, kD).view({-1, 1}).expand({2, hw}).reshape({-1});
  } else {
    lo_t = at::tensor(lo, kD).repeat({x.numel() / 2});
    hi_t = at::tensor(hi, kD).repeat({x.numel() / 2});
  }
  for (const Rule& ru : all_rules()) {
    // zbox is a first-layer rule: convs only here (bounds are per channel).
    if (ru.kind == RuleKind::ZBox && c.layer.kind != LayerKind::Conv2d) continue;
    const at::Tensor want = reference(ru, W, b, x, r.reshape({-1}), lo_t, hi_t);
    const at::Tensor got = propagate_linear(c.layer, ru, c.a, z, r, {}, lo, hi).reshape({-1});
    EXPECT_LT((got - want).abs().max().item<double>(), 1e-9 * (1 + want.abs().max().item<double>()))
        << layer_kind_name(c.layer.kind) << " " << ru.text();
    if (c.a.min().item<double>() >= 0) {  // the graph's hint "input >= 0" changes nothing
      const at::Tensor hinted =
          propagate_linear(c.layer, ru, c.a, z, r, {}, lo, hi, true).reshape({-1});
      EXPECT_TRUE(at::equal(hinted, got)) << ru.text();
    }
    // Two rows from the same image (K composites) give the same result twice.
    const at::Tensor rows = at::zeros({2}, at::kLong);
    const at::Tensor two = propagate_linear(c.layer, ru, c.a, z, at::cat({r, r}), rows, lo, hi);
    EXPECT_TRUE(at::allclose(two[1].reshape({-1}), got, 1e-12, 1e-12)) << ru.text();
  }
}

// A 3x3 conv with random weights and small random biases.
Layer random_conv(at::Generator& gen, int64_t in, int64_t out, Pair stride, Pair padding) {
  Layer l;
  l.kind = LayerKind::Conv2d;
  l.in_channels = in;
  l.out_channels = out;
  l.kernel = {3, 3};
  l.stride = stride;
  l.padding = padding;
  l.weight = at::randn({out, in, 3, 3}, gen, kD);
  l.bias = at::randn({out}, gen, kD) * 0.5;
  return l;
}

TEST(Rules, DenseLayerMatchesDenseReference) {
  at::Generator gen = at::detail::createCPUGenerator(1);
  Layer l;
  l.kind = LayerKind::Linear;
  l.in_channels = 6;
  l.out_channels = 4;
  l.weight = at::randn({4, 6}, gen, kD);
  l.bias = at::randn({4}, gen, kD) * 0.5;
  check_layer({l, at::randn({1, 6}, gen, kD)});
}

TEST(Rules, ConvLayerMatchesDenseReference) {
  at::Generator gen = at::detail::createCPUGenerator(2);
  const Layer l = random_conv(gen, 2, 3, {1, 1}, {1, 1});
  check_layer({l, at::randn({1, 2, 5, 5}, gen, kD)});
}

TEST(Rules, StridedConvWithoutPaddingMatchesDenseReference) {
  at::Generator gen = at::detail::createCPUGenerator(3);
  const Layer l = random_conv(gen, 2, 2, {2, 2}, {0, 0});
  check_layer({l, at::randn({1, 2, 6, 6}, gen, kD)});
}

// A strided, padded first layer (ResNet's stem): z^B takes its own path there (the bound
// term from a cache, two transposed passes); the padded border is where it could go wrong.
TEST(Rules, StridedPaddedConvMatchesDenseReference) {
  at::Generator gen = at::detail::createCPUGenerator(6);
  const Layer l = random_conv(gen, 2, 3, {2, 2}, {1, 1});
  check_layer({l, at::randn({1, 2, 7, 7}, gen, kD)});
  check_layer({l, at::randn({1, 2, 7, 7}, gen, kD)});  // the cached bound term again
}

// Inputs >= 0 (after a ReLU) with relevance of both signs, as on a conv that feeds a
// residual addition: the generalised gamma's path that derives both denominators from one
// W+ pass and transposes W^ and Wv together.
TEST(Rules, NonNegativeInputsWithRelevanceOfBothSigns) {
  at::Generator gen = at::detail::createCPUGenerator(8);
  Layer l = random_conv(gen, 2, 3, {1, 1}, {1, 1});
  check_layer({l, at::randn({1, 2, 5, 5}, gen, kD).abs()});
  l.stride = {2, 2};  // the transpose through convolution_backward
  check_layer({l, at::randn({1, 2, 5, 5}, gen, kD).abs()});
  Layer d;
  d.kind = LayerKind::Linear;
  d.in_channels = 6;
  d.out_channels = 4;
  d.weight = at::randn({4, 6}, gen, kD);
  d.bias = at::randn({4}, gen, kD) * 0.5;
  check_layer({d, at::randn({1, 6}, gen, kD).abs()});
}

// The fused float kernels against the tensor expressions they replace.
TEST(Rules, FusedGammaKernelsMatchTensorExpressions) {
  at::Generator gen = at::detail::createCPUGenerator(9);
  const at::TensorOptions f = at::TensorOptions().dtype(at::kFloat);
  const at::Tensor z = at::randn({3, 4, 5, 5}, gen, f), pz = at::randn({3, 4, 5, 5}, gen, f);
  at::Tensor r = at::randn({3, 4, 5, 5}, gen, f);
  for (Stabilizer st : {Stabilizer::Sign, Stabilizer::Vanilla, Stabilizer::Reference,
                        Stabilizer::None, Stabilizer::Quadratic}) {
    const at::Tensor q = gamma_quotients(r, z, pz, 0.25, 1e-3, st);
    const at::Tensor zero = at::zeros({}, f);
    const at::Tensor sp = stabilized_divide(at::where(z > 0, r, zero), z + pz * 0.25, 1e-3, st);
    const at::Tensor sn =
        stabilized_divide(at::where(z < 0, r, zero), z + (z - pz) * 0.25, 1e-3, st);
    EXPECT_TRUE(at::allclose(q.select(1, 0), sp, 1e-6, 1e-6)) << stabilizer_name(st);
    EXPECT_TRUE(at::allclose(q.select(1, 1), sn, 1e-6, 1e-6)) << stabilizer_name(st);
  }
  EXPECT_TRUE(relevance_on_nonpositive(r, z));
  r = at::where(z > 0, r, at::zeros({}, f));
  EXPECT_FALSE(relevance_on_nonpositive(r, z));
  EXPECT_FALSE(relevance_on_nonpositive(r.to(at::kDouble), z.to(at::kDouble)));
  r.view({-1})[z.view({-1}).argmin()] = 1.0f;  // one unit with z < 0 carries relevance
  EXPECT_TRUE(relevance_on_nonpositive(r, z));
}

TEST(Rules, AvgPoolMatchesDenseReference) {
  at::Generator gen = at::detail::createCPUGenerator(4);
  Layer l;
  l.kind = LayerKind::AvgPool2d;
  l.kernel = {2, 2};
  l.stride = {2, 2};
  check_layer({l, at::rand({1, 2, 4, 4}, gen, kD)});
}

TEST(Rules, AdaptiveAvgPoolMatchesDenseReference) {
  at::Generator gen = at::detail::createCPUGenerator(5);
  Layer l;
  l.kind = LayerKind::AdaptiveAvgPool2d;
  l.output_size = {2, 2};
  check_layer({l, at::rand({1, 2, 6, 6}, gen, kD)});
}

// An add node is the linear map [I I ... I] without bias: every rule but zbox against the
// dense reference, on inputs and relevance of both signs.
TEST(Rules, AddNodeMatchesDenseReference) {
  at::Generator gen = at::detail::createCPUGenerator(11);
  const std::vector<at::Tensor> in = {at::randn({1, 2, 3, 3}, gen, kD),
                                      at::randn({1, 2, 3, 3}, gen, kD),
                                      at::randn({1, 2, 3, 3}, gen, kD)};
  const at::Tensor z = in[0] + in[1] + in[2];
  const at::Tensor r = at::randn(z.sizes(), gen, kD);
  const int64_t n = z.numel();
  const at::Tensor eye = at::eye(n, kD);
  const at::Tensor W = at::cat({eye, eye, eye}, 1);
  const at::Tensor x = at::cat({in[0].reshape({-1}), in[1].reshape({-1}), in[2].reshape({-1})});
  const at::Tensor none = at::zeros({3 * n}, kD);
  for (const Rule& ru : all_rules()) {
    if (ru.kind == RuleKind::ZBox) continue;
    const at::Tensor want = reference(ru, W, at::zeros({n}, kD), x, r.reshape({-1}), none, none);
    const std::vector<at::Tensor> parts = propagate_add(ru, in, z, r, {});
    ASSERT_EQ(parts.size(), 3u);
    const at::Tensor got =
        at::cat({parts[0].reshape({-1}), parts[1].reshape({-1}), parts[2].reshape({-1})});
    EXPECT_LT((got - want).abs().max().item<double>(), 1e-9 * (1 + want.abs().max().item<double>()))
        << "add " << ru.text();
  }
}

// An unfolded BatchNorm is the diagonal linear map x * scale + shift per channel.
TEST(Rules, AffineNodeMatchesDenseReference) {
  at::Generator gen = at::detail::createCPUGenerator(12);
  Layer l;
  l.kind = LayerKind::BatchNorm2d;
  l.weight = at::randn({2}, gen, kD);
  l.bias = at::randn({2}, gen, kD);
  const at::Tensor a = at::randn({1, 2, 3, 3}, gen, kD);
  const at::Tensor z = forward_layer(l, a);
  const at::Tensor r = at::randn(z.sizes(), gen, kD);
  const at::Tensor W = at::diag(l.weight.view({2, 1}).expand({2, 9}).reshape({-1}));
  const at::Tensor b = l.bias.view({2, 1}).expand({2, 9}).reshape({-1});
  for (const Rule& ru : {rule(RuleKind::Zero), rule(RuleKind::Epsilon, 0.3),
                         rule(RuleKind::Zero, 0, 0, Stabilizer::None), rule(RuleKind::Pass)}) {
    const at::Tensor want = reference(ru, W, b, a.reshape({-1}), r.reshape({-1}), {}, {});
    const at::Tensor got = propagate_affine(l, ru, a, z, r, {}).reshape({-1});
    EXPECT_LT((got - want).abs().max().item<double>(), 1e-9 * (1 + want.abs().max().item<double>()))
        << "bn " << ru.text();
  }
}

TEST(Rules, WhichNodesTakeWhichRules) {
  EXPECT_TRUE(rule_applies(RuleKind::Pass, LayerKind::BatchNorm2d));
  EXPECT_FALSE(rule_applies(RuleKind::Pass, LayerKind::Conv2d));
  EXPECT_FALSE(rule_applies(RuleKind::Gamma, LayerKind::BatchNorm2d));
  EXPECT_TRUE(rule_applies(RuleKind::Epsilon, LayerKind::BatchNorm2d));
  EXPECT_FALSE(rule_applies(RuleKind::ZBox, LayerKind::Add));
  EXPECT_TRUE(rule_applies(RuleKind::Gamma, LayerKind::Add));
  EXPECT_FALSE(rule_applies(RuleKind::Zero, LayerKind::ReLU));
}

// The two halves of every rule's registration agree: each rule of the grammar has a
// propagation through nodes with weights, and one through add nodes exactly where the grammar
// lets it stand on them.
TEST(Rules, EveryRuleOfTheGrammarHasItsPropagation) {
  for (const RuleInfo& info : rule_table()) {
    Rule ru;
    ru.kind = info.kind;
    if (!info.defaults.empty()) ru.p1 = info.defaults[0];
    if (info.defaults.size() > 1) ru.p2 = info.defaults[1];
    const rules::Propagation& p = rules::propagation(ru.normalized());
    const bool linear = info.applies(LayerKind::Conv2d) || info.applies(LayerKind::BatchNorm2d);
    EXPECT_EQ(p.linear != nullptr, linear) << info.name;
    EXPECT_EQ(p.add != nullptr, info.applies(LayerKind::Add)) << info.name;
    // The transformer kinds' rules have a node propagation exactly where they apply.
    const bool own = info.applies(LayerKind::Norm) || info.applies(LayerKind::Act) ||
                     info.applies(LayerKind::Attention) || info.applies(LayerKind::Product);
    EXPECT_EQ(p.node != nullptr, own) << info.name;
  }
}

// Every node kind has its row, under its own kind, and the short names used by `@type`
// selectors are those of docs/method.md.
TEST(Rules, EveryNodeKindHasItsRow) {
  std::set<std::string> torch_names, rule_kinds, parameter_kinds;
  for (int k = 0; k <= static_cast<int>(LayerKind::Select); ++k) {
    const LayerKind kind = static_cast<LayerKind>(k);
    const NodeKindInfo& info = node_kind_info(kind);
    EXPECT_EQ(info.kind, kind);
    EXPECT_TRUE(torch_names.insert(info.torch_name).second) << info.torch_name;
    if (is_linear(kind)) rule_kinds.insert(info.torch_name);
    if (has_parameters(kind)) parameter_kinds.insert(info.torch_name);
  }
  // docs/method.md: conv, dense, the average pools and add carry rules (an unfolded
  // BatchNorm too, decided by the network); conv, dense and BatchNorm have state-dict tensors.
  EXPECT_EQ(rule_kinds, (std::set<std::string>{"Conv2d", "Linear", "AvgPool2d",
                                               "AdaptiveAvgPool2d", "Add"}));
  EXPECT_EQ(parameter_kinds, (std::set<std::string>{"Conv2d", "Linear", "BatchNorm2d",
                                                    "ClassToken", "Scale", "LayerNorm"}));
  for (LayerKind k : {LayerKind::Norm, LayerKind::Act, LayerKind::Attention, LayerKind::Product})
    EXPECT_TRUE(carries_rule(k) && !is_linear(k)) << node_kind_name(k);
  EXPECT_STREQ(node_kind_name(LayerKind::AdaptiveAvgPool2d), "avgpool");
  EXPECT_STREQ(node_kind_name(LayerKind::Dropout), "identity");
  EXPECT_STREQ(node_kind_name(LayerKind::BatchNorm2d), "bn");
  EXPECT_TRUE(node_kind_info(LayerKind::Concat).several_inputs);
  EXPECT_FALSE(node_kind_info(LayerKind::Pad).several_inputs);
  EXPECT_TRUE(node_kind_info(LayerKind::ReLU).nonneg_out);
  EXPECT_FALSE(node_kind_info(LayerKind::Conv2d).keeps_nonneg);
}

TEST(Rules, CanonicalText) {
  EXPECT_EQ(rule(RuleKind::Gamma, 0).text(), "zero");
  EXPECT_EQ(rule(RuleKind::Epsilon, 0, 0, Stabilizer::None).text(), "zero(stab=none)");
  EXPECT_EQ(rule(RuleKind::Epsilon, 0.25, 0, Stabilizer::Quadratic).text(),
            "epsilon(0.25,stab=quadratic)");
  EXPECT_EQ(rule(RuleKind::AlphaBeta, 2, 1).text(), "alphabeta(2,1)");
  // std::to_chars(double): the shortest round trip, scientific where that is shorter.
  EXPECT_EQ(format_number(1e-4), "1e-04");
  EXPECT_EQ(format_number(0.25), "0.25");
  EXPECT_EQ(format_number(std::pow(10.0, -4 + 4.0 / 14)), "0.00019306977288832496");
}

}  // namespace
}  // namespace lrpbench
