// Transformers (docs/method.md, "Transformers"): the node kinds' rules against explicit
// formulas, the gradient x input identity on ViTs, presets, selectors and bad graphs.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

#include "helpers.h"
#include "lrp/composite.h"
#include "lrp/engine.h"
#include "lrp/node_gradients.h"
#include "lrp/presets.h"
#include "lrp/propagation.h"
#include "model/architectures.h"
#include "model/canonize.h"
#include "model/vit.h"
#include "report/gallery.h"
#include "search/experiment.h"
#include "util/error.h"

namespace lrpbench {
namespace {

// A small ViT (image 16, patch 4: 16 patch tokens + the class token, 2 layers, 2 heads, width
// 8) with random parameters everywhere, LayerNorm and biases included.
Network small_vit(uint64_t seed, int64_t channels = 1) {
  ViTConfig c{"small-vit", 16, 4, channels, 2, 2, 8, 16, 5, 1e-6};
  Network net = build_vit(c);
  init_random(net, seed);
  at::Generator gen = at::detail::createCPUGenerator(seed + 7);
  for (Layer& l : net.layers) {
    if (l.bias.defined()) l.bias = at::empty_like(l.bias).normal_(0.0, 0.1, gen);
    if (l.kind == LayerKind::Norm || l.kind == LayerKind::ClassToken)
      l.weight = l.weight + at::empty_like(l.weight).normal_(0.0, 0.2, gen);
  }
  return canonize(net);
}

at::Tensor gradient_x_input(const Network& net, const at::Tensor& x, int64_t target) {
  at::Tensor xi = x.detach().clone().set_requires_grad(true);
  forward(net, xi).select(1, target).sum().backward();
  return (xi.grad() * x).sum(1, true);
}

TEST(Transformer, GradOnEveryNewKindIsGradientTimesInput) {
  for (uint64_t seed : {1, 2, 3}) {
    const Network net = small_vit(seed);
    at::Generator gen = at::detail::createCPUGenerator(seed);
    const at::Tensor x = at::randn({2, 1, 16, 16}, gen);
    const Composite identity = parse_composite("zero(stab=none);@all:grad", net);
    const Explanation e = explain(net, x, {-1, 2}, {identity});
    for (int64_t i = 0; i < 2; ++i) {
      const at::Tensor want = gradient_x_input(net, x.slice(0, i, i + 1), e.targets[static_cast<size_t>(i)]);
      EXPECT_LE(test::rel_l2(e.relevance[i][0], want[0]), 1e-5) << "seed " << seed << " image " << i;
    }
  }
}

TEST(Transformer, GradIdentityOnFashionVitLayout) {
  Network net = build_architecture("fashion-vit");
  init_random(net, 5);
  at::Generator gen = at::detail::createCPUGenerator(9);
  for (Layer& l : net.layers)
    if (l.bias.defined()) l.bias = at::empty_like(l.bias).normal_(0.0, 0.05, gen);
  net = canonize(net);
  const at::Tensor x = at::randn({1, 1, 28, 28}, gen);
  const Explanation e = explain(net, x, {3}, {parse_composite("zero(stab=none);@all:grad", net)});
  EXPECT_LE(test::rel_l2(e.relevance[0][0], gradient_x_input(net, x, 3)[0]), 1e-5);
}

// Two tokens, two heads of width 2: the attention rules against explicit sums.
TEST(Transformer, AttentionRulesAgainstExplicitMatrices) {
  const int64_t T = 2, H = 2, d = 2, D = H * d;
  at::Generator gen = at::detail::createCPUGenerator(11);
  const at::Tensor qkv = at::randn({1, T, 3 * D}, gen).to(at::kDouble);
  const at::Tensor r = at::randn({1, T, D}, gen).to(at::kDouble);
  Layer l;
  l.kind = LayerKind::Attention;
  l.heads = H;
  const at::Tensor o = merge_heads(at::matmul(attention_parts(qkv, H).attn, attention_parts(qkv, H).v));
  auto q = [&](int64_t t, int64_t h, int64_t c) { return qkv[0][t][h * d + c].item<double>(); };
  auto k = [&](int64_t t, int64_t h, int64_t c) { return qkv[0][t][D + h * d + c].item<double>(); };
  auto v = [&](int64_t t, int64_t h, int64_t c) { return qkv[0][t][2 * D + h * d + c].item<double>(); };
  std::vector<double> want_cp(3 * D * T, 0.0), want_attn(3 * D * T, 0.0);
  auto at_ = [&](int64_t t, int64_t part, int64_t h, int64_t c) {
    return static_cast<size_t>(t * 3 * D + part * D + h * d + c);
  };
  for (int64_t h = 0; h < H; ++h) {
    double A[2][2], S[2][2];
    for (int64_t i = 0; i < T; ++i) {
      double m = 0;
      for (int64_t j = 0; j < T; ++j) {
        S[i][j] = 0;
        for (int64_t c = 0; c < d; ++c) S[i][j] += q(i, h, c) * k(j, h, c) / std::sqrt(double(d));
      }
      m = std::exp(S[i][0]) + std::exp(S[i][1]);
      for (int64_t j = 0; j < T; ++j) A[i][j] = std::exp(S[i][j]) / m;
    }
    double G[2][2];  // g_o = r / o per token and channel of this head
    for (int64_t i = 0; i < T; ++i)
      for (int64_t c = 0; c < d; ++c)
        G[i][c] = r[0][i][h * d + c].item<double>() / o[0][i][h * d + c].item<double>();
    // cp: R_v[j, c] = v[j, c] sum_i A[i][j] G[i][c]
    for (int64_t j = 0; j < T; ++j)
      for (int64_t c = 0; c < d; ++c) {
        double s = 0;
        for (int64_t i = 0; i < T; ++i) s += A[i][j] * G[i][c];
        want_cp[at_(j, 2, h, c)] = v(j, h, c) * s;
        want_attn[at_(j, 2, h, c)] = v(j, h, c) * s / 2;
      }
    // attnlrp: G_A = G v^T / 2, G_S = A (G_A - rowsum(A G_A)), q and k halves of the product.
    double GA[2][2], GS[2][2];
    for (int64_t i = 0; i < T; ++i)
      for (int64_t j = 0; j < T; ++j) {
        GA[i][j] = 0;
        for (int64_t c = 0; c < d; ++c) GA[i][j] += G[i][c] * v(j, h, c) / 2;
      }
    for (int64_t i = 0; i < T; ++i) {
      const double dot = A[i][0] * GA[i][0] + A[i][1] * GA[i][1];
      for (int64_t j = 0; j < T; ++j) GS[i][j] = A[i][j] * (GA[i][j] - dot);
    }
    for (int64_t i = 0; i < T; ++i)
      for (int64_t c = 0; c < d; ++c) {
        double gq = 0, gk = 0;
        for (int64_t j = 0; j < T; ++j) {
          gq += GS[i][j] * k(j, h, c);
          gk += GS[j][i] * q(j, h, c);
        }
        want_attn[at_(i, 0, h, c)] = q(i, h, c) * gq / std::sqrt(double(d)) / 2;
        want_attn[at_(i, 1, h, c)] = k(i, h, c) * gk / std::sqrt(double(d)) / 2;
      }
  }
  const std::vector<at::Tensor> in{qkv};
  for (RuleKind kind : {RuleKind::CP, RuleKind::AttnLRP}) {
    Rule rule;
    rule.kind = kind;
    const at::Tensor got =
        rules::propagation(rule).node(rules::NodeCall{l, rule, in, o, r, {}})[0].reshape({-1});
    const std::vector<double>& want = kind == RuleKind::CP ? want_cp : want_attn;
    for (size_t i = 0; i < want.size(); ++i)
      EXPECT_NEAR(got[static_cast<int64_t>(i)].item<double>(), want[i], 1e-12) << rule.text() << " " << i;
  }
  // cp conserves the relevance exactly.
  Rule cp;
  cp.kind = RuleKind::CP;
  const at::Tensor rv = rules::node_cp(rules::NodeCall{l, cp, in, o, r, {}})[0];
  EXPECT_NEAR(rv.sum().item<double>(), r.sum().item<double>(), 1e-12);
}

// LayerNorm: identity (divisor held) and grad against the Jacobian built column by column.
TEST(Transformer, NormRulesAgainstTheJacobian) {
  const int64_t D = 5;
  at::Generator gen = at::detail::createCPUGenerator(12);
  Layer l;
  l.kind = LayerKind::Norm;
  l.in_channels = D;
  l.bn_eps = 1e-5;
  l.weight = at::randn({D}, gen).to(at::kDouble);
  l.bias = at::randn({D}, gen).to(at::kDouble);
  const at::Tensor x = at::randn({1, 1, D}, gen).to(at::kDouble);
  const at::Tensor r = at::randn({1, 1, D}, gen).to(at::kDouble);
  const at::Tensor y = at::layer_norm(x, {D}, l.weight, l.bias, l.bn_eps);
  const double mean = x.mean().item<double>();
  const double s = std::sqrt(x.var(-1, false).item<double>() + l.bn_eps);
  for (bool hold : {true, false}) {
    // J[i][j] = d y_i / d x_j, by central differences of the (held or exact) map.
    at::Tensor want = at::zeros({D}, at::kDouble);
    for (int64_t j = 0; j < D; ++j) {
      const double h = 1e-6;
      at::Tensor xp = x.clone(), xm = x.clone();
      xp[0][0][j] += h;
      xm[0][0][j] -= h;
      auto map = [&](const at::Tensor& t) {
        if (!hold) return at::layer_norm(t, {D}, l.weight, l.bias, l.bn_eps);
        return (t - t.mean(-1, true)) / s * l.weight + l.bias;
      };
      const at::Tensor col = (map(xp) - map(xm)) / (2 * h);  // column j of J
      want[j] = x[0][0][j].item<double>() * (col * (r / y)).sum().item<double>();
    }
    Rule rule;
    rule.kind = hold ? RuleKind::Identity : RuleKind::Grad;
    const std::vector<at::Tensor> in{x};
    const at::Tensor got = rules::propagation(rule).node(rules::NodeCall{l, rule, in, y, r, {}})[0];
    EXPECT_LE(test::rel_l2(got.reshape({-1}), want), 1e-7) << rule.text();
  }
  (void)mean;
}

TEST(Transformer, ActAndProductRules) {
  at::Generator gen = at::detail::createCPUGenerator(13);
  Layer act;
  act.kind = LayerKind::Act;
  const at::Tensor x = at::randn({2, 3, 4}, gen).to(at::kDouble);
  const at::Tensor y = at::gelu(x);
  const at::Tensor r = at::randn({2, 3, 4}, gen).to(at::kDouble);
  Rule id;
  id.kind = RuleKind::Identity;
  const std::vector<at::Tensor> in{x};
  EXPECT_TRUE(at::equal(rules::node_identity(rules::NodeCall{act, id, in, y, r, {}})[0], r));
  Rule grad;
  grad.kind = RuleKind::Grad;
  // d gelu / dx = Phi(x) + x phi(x)
  const at::Tensor phi = at::exp(-x * x / 2) / std::sqrt(2 * M_PI);
  const at::Tensor Phi = 0.5 * (1 + at::erf(x / std::sqrt(2.0)));
  const at::Tensor want = x * (Phi + x * phi) * r / y;
  EXPECT_LE(test::rel_l2(rules::node_grad(rules::NodeCall{act, grad, in, y, r, {}})[0], want), 1e-10);

  // Product of a (2 x 3 x 4) and a gate b broadcast over the tokens (2 x 1 x 4).
  Layer prod;
  prod.kind = LayerKind::Product;
  prod.gate = 1;
  const at::Tensor b = at::sigmoid(at::randn({2, 1, 4}, gen).to(at::kDouble));
  const at::Tensor z = x * b;
  const std::vector<at::Tensor> ab{x, b};
  Rule uni, gate;
  uni.kind = RuleKind::Uniform;
  gate.kind = RuleKind::Gate;
  const auto u = rules::node_uniform(rules::NodeCall{prod, uni, ab, z, r, {}});
  // uniform: x gets r / 2; b's relevance is b * sum over tokens of (x * r / z) / 2 = sum(r) / 2.
  EXPECT_LE(test::rel_l2(u[0], r / 2), 1e-12);
  EXPECT_LE(test::rel_l2(u[1], r.sum(1, true) / 2), 1e-12);
  const auto g = rules::node_gate(rules::NodeCall{prod, gate, ab, z, r, {}});
  EXPECT_LE(test::rel_l2(g[0], r), 1e-12);
  EXPECT_EQ(g[1].abs().sum().item<double>(), 0.0);
}

TEST(Transformer, PresetsGiveEachKindItsRule) {
  const Network net = small_vit(1);
  for (const char* preset : {"cp-lrp", "attnlrp(1,0.1)"}) {
    const Composite c = parse_composite(preset, net);
    const bool attn = std::string(preset).rfind("attnlrp", 0) == 0;
    for (const Layer& l : net.layers) {
      if (l.slot < 0) continue;
      const std::string rule = c.at(l.slot).text();
      std::string want;
      switch (l.kind) {
        case LayerKind::Conv2d: want = attn ? "gamma(1)" : "gamma(0.25)"; break;
        case LayerKind::Linear:
          want = l.attention_projection ? "zero(stab=none)" : attn ? "gamma(0.1)" : "gamma(0.05)";
          break;
        case LayerKind::Add: want = "zero(stab=none)"; break;
        case LayerKind::Attention: want = attn ? "attnlrp" : "cp"; break;
        case LayerKind::Norm:
        case LayerKind::Act: want = "identity"; break;
        default: want = "?";
      }
      EXPECT_EQ(rule, want) << preset << " " << l.name;
    }
  }
  // cp-lrp(gc, gl) is the composite its items spell out.
  const std::string items =
      "@conv:gamma(0.5);@linear:gamma(0.2);@attn-linear:zero(stab=none);@add:zero(stab=none);"
      "@attention:cp;@norm:identity;@act:identity";
  EXPECT_EQ(canonical_form(parse_composite("cp-lrp(0.5,0.2)", net), net),
            canonical_form(parse_composite(items, net), net));
}

TEST(Transformer, SelectorsAndRuleChecks) {
  const Network net = small_vit(1);
  // @attn-linear: the 2 x 2 projections; @norm: 2 x 2 + the final one.
  const Composite c = parse_composite("@attn-linear:epsilon(0.5);@norm:grad", net);
  int eps = 0, grads = 0;
  for (const Layer& l : net.layers) {
    if (l.slot < 0) continue;
    eps += c.at(l.slot).text() == "epsilon(0.5)";
    grads += c.at(l.slot).text() == "grad";
  }
  EXPECT_EQ(eps, 4);
  EXPECT_EQ(grads, 5);
  // A rule that fits none of the selected nodes is an error; so is a bare rule fitting nothing.
  EXPECT_THROW(parse_composite("@attention:identity", net), InputError);
  EXPECT_THROW(parse_composite("@norm:gamma(0.1)", net), InputError);
  EXPECT_THROW(parse_composite("@act:cp", net), InputError);
  EXPECT_THROW(parse_composite("grad", test::random_network("fashion-vgg", 0)), InputError);
  EXPECT_THROW(parse_composite("cp-lrp(1)", net), InputError);
  EXPECT_THROW(parse_composite("attnlrp(-1,0)", net), InputError);
  // Arguments that overflow float32 (relevance of NaN before) and ranges of layer indices on a
  // model without any.
  EXPECT_THROW(parse_composite("cp-lrp(1e308,0.05)", net), InputError);
  EXPECT_THROW(parse_composite("@linear:gamma(1e7)", net), InputError);
  EXPECT_NO_THROW(parse_composite("cp-lrp(1e6,1e6)", net));
  try {
    parse_composite("cp-lrp;0-5:zero", net);
    ADD_FAILURE() << "a range was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("has no layer indices"), std::string::npos) << e.what();
  }
  // Defaults of the base composite: identity on norm and act, attnlrp on attention.
  const Composite base = parse_composite("zero", net);
  for (const Layer& l : net.layers)
    if (l.kind == LayerKind::Attention) EXPECT_EQ(base.at(l.slot).text(), "attnlrp");
}

// K composites of one image share the work above the first node where they differ, and each
// is what it is alone.
TEST(Transformer, CompositesShareTheBackwardAndMatchSingleRuns) {
  const Network net = small_vit(4);
  at::Generator gen = at::detail::createCPUGenerator(4);
  const at::Tensor x = at::randn({2, 1, 16, 16}, gen);
  std::vector<Composite> comps;
  for (double gc : {0.0, 0.25, 1.0})
    for (double gl : {0.0, 0.05})
      comps.push_back(parse_composite("cp-lrp(" + std::to_string(gc) + "," + std::to_string(gl) + ")", net));
  const Explanation all = explain(net, x, {-1, -1}, comps);
  for (size_t k = 0; k < comps.size(); ++k) {
    const Explanation one = explain(net, x, {-1, -1}, {comps[k]});
    for (int64_t i = 0; i < 2; ++i)
      EXPECT_LE(test::rel_l2(all.relevance[i][static_cast<int64_t>(k)], one.relevance[i][0]), 1e-6) << k;
  }
  // gl differs at the head (the last node): 2 images x 6 rows there; the rows' work below is
  // what sharing saves: fewer node rows than 6 separate runs.
  int64_t single = 0;
  for (const Composite& c : comps) single += explain(net, x, {-1, -1}, {c}).node_rows;
  EXPECT_LT(all.node_rows, single);
}

TEST(Transformer, BadGraphsAreRefused) {
  // Heads that do not divide the width.
  ViTConfig c{"bad-vit", 16, 4, 1, 1, 3, 8, 16, 5, 1e-6};
  EXPECT_THROW(build_vit(c), InputError);
  // An input of another size than the model's names both sizes.
  const Network net = small_vit(1);
  try {
    check_input(net, at::zeros({1, 1, 20, 20}), "--input x.npy");
    FAIL() << "a 20x20 input passed";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("16x16"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("20x20"), std::string::npos) << e.what();
  }
  // A token count that does not match the positional embedding.
  Network wrong = build_vit(ViTConfig{"w", 16, 4, 1, 1, 2, 8, 16, 5, 1e-6});
  for (Layer& l : wrong.layers)
    if (l.kind == LayerKind::Scale) l.bias = at::zeros({1, 20, 8});
  EXPECT_THROW(wrong.finalize(), InputError);
  // A select past the last token; an attention reading a map.
  Network sel = build_vit(ViTConfig{"s", 16, 4, 1, 1, 2, 8, 16, 5, 1e-6});
  for (Layer& l : sel.layers)
    if (l.kind == LayerKind::Select) l.token = 17;
  EXPECT_THROW(sel.finalize(), InputError);
  Network cyc = build_vit(ViTConfig{"c", 16, 4, 1, 1, 2, 8, 16, 5, 1e-6});
  cyc.layers[2].inputs = {5};  // reads a node that runs after it
  EXPECT_THROW(cyc.finalize(), InputError);
  // An attention reading a map, no heads, a norm on a map, a scale of the wrong shape.
  auto refused = [](const std::function<void(Network&)>& tamper, const std::string& why) {
    Network n = build_vit(ViTConfig{"t", 16, 4, 1, 1, 2, 8, 16, 5, 1e-6});
    tamper(n);
    try {
      n.finalize();
      ADD_FAILURE() << "accepted: " << why;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  };
  auto at_kind = [](Network& n, LayerKind k) -> Layer& {
    for (Layer& l : n.layers)
      if (l.kind == k) return l;
    throw std::logic_error("no such node");
  };
  refused([&](Network& n) { at_kind(n, LayerKind::Attention).inputs = {0}; }, "not a token tensor");
  refused([&](Network& n) { at_kind(n, LayerKind::Attention).heads = 0; }, "has 0 heads");
  refused([&](Network& n) { at_kind(n, LayerKind::Norm).inputs = {0}; }, "a map");
  refused([&](Network& n) { at_kind(n, LayerKind::Scale).weight = at::ones({3, 8}); }, "scales");
  refused([&](Network& n) { at_kind(n, LayerKind::ClassToken).weight = at::ones({1, 2, 8}); }, "class token of shape");
}

// A squeeze-excitation block: x * sigmoid(conv(avgpool(x))), a product of two computed tensors
// with the gate broadcast over the map.
Network se_network(uint64_t seed) {
  Network net;
  net.arch = "se";
  net.in_channels = 1;
  net.default_size = 8;
  net.fixed_size = true;
  net.named = true;
  net.mean = {0.0};
  net.std = {1.0};
  net.num_classes = 3;
  // conv -> relu -> [squeeze (avgpool 1x1) -> excite (1x1 conv) -> gate (sigmoid)] -> scale
  // (relu x gate) -> pool -> flatten -> fc
  Layer conv = test::node(LayerKind::Conv2d, "conv", {kNetworkInput});
  conv.in_channels = 1;
  conv.out_channels = 4;
  conv.kernel = {3, 3};
  conv.padding = {1, 1};
  Layer squeeze = test::node(LayerKind::AdaptiveAvgPool2d, "squeeze", {1});
  squeeze.output_size = {1, 1};
  Layer excite = test::node(LayerKind::Conv2d, "excite", {2});
  excite.in_channels = excite.out_channels = 4;
  Layer gate = test::node(LayerKind::Act, "gate", {3});
  gate.activation = Activation::Sigmoid;
  Layer pool = squeeze;
  pool.name = "pool";
  pool.inputs = {5};
  Layer fc = test::node(LayerKind::Linear, "fc", {7});
  fc.in_channels = 4;
  fc.out_channels = 3;
  net.layers = {conv, test::node(LayerKind::ReLU, "relu", {0}), squeeze, excite, gate,
                test::node(LayerKind::Product, "scale", {1, 4}), pool,
                test::node(LayerKind::Flatten, "flatten", {6}), fc};
  net.finalize();
  init_random(net, seed);
  at::Generator gen = at::detail::createCPUGenerator(seed);
  for (Layer& l : net.layers) {
    if (l.weight.defined()) l.weight = at::empty_like(l.weight).normal_(0.0, 0.5, gen);
    if (l.bias.defined()) l.bias = at::empty_like(l.bias).normal_(0.0, 0.1, gen);
  }
  return canonize(net);
}

TEST(Transformer, SqueezeExcitationProductsThroughTheEngine) {
  const Network net = se_network(3);
  const Layer& prod = net.layers[static_cast<size_t>(net.position_named("scale"))];
  EXPECT_EQ(prod.gate, 1);  // the sigmoid's output
  at::Generator gen = at::detail::createCPUGenerator(5);
  const at::Tensor x = at::randn({2, 1, 8, 8}, gen);
  const std::vector<Composite> comps = {parse_composite("zero(stab=none);@all:grad", net),
                                        parse_composite("zero(stab=none);@product:uniform", net),
                                        parse_composite("zero(stab=none);@product:gate", net)};
  const Explanation all = explain(net, x, {-1, 1}, comps);
  for (int64_t i = 0; i < 2; ++i) {
    const at::Tensor want = gradient_x_input(net, x.slice(0, i, i + 1), all.targets[static_cast<size_t>(i)]);
    EXPECT_LE(test::rel_l2(all.relevance[i][0], want[0]), 1e-5) << i;
    for (size_t k = 0; k < comps.size(); ++k) {
      const Explanation one = explain(net, x, {-1, 1}, {comps[k]});
      EXPECT_LE(test::rel_l2(all.relevance[i][static_cast<int64_t>(k)], one.relevance[i][0]), 1e-6) << k;
    }
  }
  // gate: everything reaches x (zero rules elsewhere conserve without biases up to them); the
  // uniform rule gives x half: its relevance at the input differs from gate's.
  EXPECT_GT(test::rel_l2(all.relevance[0][1], all.relevance[0][2]), 1e-3);
}

TEST(Transformer, SearchPresetsSpellLxtsGrid) {
  const Experiment x = preset_experiment("fashion-vit-gamma", "", "");
  EXPECT_EQ(x.model, "fashion-vit");
  ASSERT_EQ(x.families.size(), 2u);
  EXPECT_EQ(x.families[0].name, "cp-lrp");
  EXPECT_EQ(x.families[1].name, "attnlrp");
  for (const Family& f : x.families) {
    EXPECT_EQ(f.grid_size(), 256u);
    EXPECT_EQ(f.params[0].values().back(), 100.0);
    EXPECT_EQ(f.params[1].values().back(), 10.0);
    EXPECT_EQ(f.params[0].values().front(), 0.0);
  }
  EXPECT_EQ(x.orders.size(), 3u);
  EXPECT_THROW(preset_experiment("fashion-vit-gamma", "w.pth", ""), InputError);
  EXPECT_THROW(preset_experiment("vit-imagenet-gamma", "", "val"), InputError);
  const Experiment im = preset_experiment("vit-imagenet-gamma", "vit.pth", "val");
  EXPECT_EQ(im.model, "vit_b_16");
  // A family of the transformer presets in an experiment file.
  EXPECT_EQ(test::experiment_error(R"TOML(
[model]
name = "fashion-vit"
[data]
dataset = "fashion-mnist"
count = 2
[[family]]
name = "attnlrp"
values1 = [0, 1]
values2 = [0, 0.1]
)TOML"), "(no error)");
}

// The gallery frames each order's optimum in its colour, on its own tile.
TEST(Transformer, GalleryFramesTheMarkedTile) {
  const at::Tensor white = at::ones({3, 8, 8});
  const at::Tensor g = gallery({{white, white}}, {{0, 1, mark_colour(0)}});  // green on tile 1
  ASSERT_EQ(g.size(0), 3);
  const at::Tensor green = (g[0] < 0.1) & (g[1] > 0.6) & (g[2] < 0.1);
  const int64_t half = g.size(2) / 2;
  EXPECT_EQ(green.narrow(1, 0, half).sum().item<int64_t>(), 0);
  EXPECT_GT(green.narrow(1, half, g.size(2) - half).sum().item<int64_t>(), 0);
}

// fashion-vit through search and report: the gallery of cp-lrp's grid is drawn.
TEST(Transformer, SearchAndReportOnFashionVit) {
  const std::string dir = ::testing::TempDir() + "/vit_search";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    std::ofstream f(dir + "/exp.toml");
    f << R"TOML(
[model]
name = "fashion-vit"
[data]
dataset = "fashion-mnist"
class = 9
count = 2
[[family]]
name = "cp-lrp"
values1 = [0, 1]
values2 = [0, 0.1]
[reference]
points = ["attnlrp", "cp-lrp"]
[pf]
orders = ["morf", "lrf"]
patch = 7
)TOML";
  }
  std::string err;
  ASSERT_EQ(test::run_command(test::binary() + " search " + dir + "/exp.toml --out " + dir + "/run", &err), 0) << err;
  ASSERT_EQ(test::run_command(test::binary() + " report " + dir + "/run", &err), 0) << err;
  EXPECT_TRUE(std::filesystem::exists(dir + "/run/report/gallery_cp-lrp.png"));
  std::ifstream in(dir + "/run/report/index.html");
  const std::string page((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(page.find("Gallery: cp-lrp over (gc, gl)"), std::string::npos);
  EXPECT_NE(page.find("morf</span> at"), std::string::npos);
}

}  // namespace
}  // namespace lrpbench
