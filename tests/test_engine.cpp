// The LRP engine: identities, conservation, diagnostics and K-composite sharing.
#include <gtest/gtest.h>

#include "data/fashion_mnist.h"
#include "data/image.h"
#include "helpers.h"
#include "lrp/engine.h"
#include "lrp/weight_cache.h"
#include "lrp/presets.h"

namespace lrpbench {
namespace {

at::Tensor fashion_images(const Network& net, int64_t count) {
  static const Dataset d = load_fashion_mnist("test");
  return normalize(d.images.slice(0, 0, count), net.mean, net.std);
}

at::Tensor gradient_x_input(const Network& net, const at::Tensor& x, int64_t target) {
  at::Tensor xi = x.detach().clone().set_requires_grad(true);
  forward(net, xi).select(1, target).sum().backward();
  return xi.grad() * x;
}

TEST(Engine, LrpZeroEqualsGammaZeroEqualsGradientTimesInputOnVgg16) {
  const Network net = test::random_network("vgg16", 0);
  at::Generator gen = at::detail::createCPUGenerator(3);
  const at::Tensor x = at::randn({1, 3, 224, 224}, gen);
  const Explanation e =
      explain(net, x, {-1},
              {parse_composite("zero(stab=none)", net), parse_composite("gamma(0,stab=none)", net),
               parse_composite("epsilon(0,stab=none)", net)});
  const at::Tensor gxi = gradient_x_input(net, x, e.targets[0]);
  const double scale = gxi.abs().max().item<double>();
  ASSERT_GT(scale, 0);
  for (int k = 0; k < 3; ++k)
    EXPECT_LE((e.relevance[0][k] - gxi[0]).abs().max().item<double>(), 1e-5 * scale) << k;
  // The three composites are the same rule everywhere: one shared backward row.
  EXPECT_EQ(e.shared_rows, 1);
}

class Conservation : public ::testing::TestWithParam<std::string> {};

TEST_P(Conservation, HoldsWithoutBiasesOnShippedFashionVgg) {
  Network net = test::shipped_fashion_vgg();
  for (Layer& l : net.layers)
    if (l.bias.defined()) l.bias = at::zeros_like(l.bias);
  const at::Tensor x = fashion_images(net, 8);
  const Explanation e =
      explain(net, x, std::vector<int64_t>(8, -1), {parse_composite(GetParam(), net)});
  for (int64_t i = 0; i < 8; ++i) {
    const at::Tensor r = e.relevance[i][0].to(at::kDouble);
    const double logit = e.logits[i][e.targets[static_cast<size_t>(i)]].item<double>();
    EXPECT_LE(std::fabs(r.sum().item<double>() - logit), 1e-5 * r.abs().sum().item<double>())
        << GetParam() << " image " << i;
    const Diagnostics& d = e.diagnostics[static_cast<size_t>(i)][0];
    EXPECT_EQ(d.layers.size(), net.linear_indices().size());
    for (const LayerDiagnostics& l : d.layers) EXPECT_LT(l.conservation_error, 1e-4) << l.index;
    EXPECT_LT(d.conservation_error, 1e-4);
    EXPECT_EQ(d.nonfinite, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Rules, Conservation,
                         ::testing::Values("zero(stab=none)", "gamma(0.25,stab=none)",
                                           "0:zbox(stab=none);1-:zero(stab=none)",
                                           "0:zbox(stab=none);1-:gamma(0.5,stab=none)"));

TEST(Engine, KCompositesInOneCallEqualSeparateCalls) {
  const Network net = test::shipped_fashion_vgg();
  const at::Tensor x = fashion_images(net, 3);
  std::vector<Composite> comps;
  for (double g : {0.0, 0.01, 0.25, 1.0})
    for (double e : {0.0, 0.001, 0.25, 1.0}) comps.push_back(tutorial_composite(net, g, e));
  comps.push_back(parse_composite("decreasing-gamma(0.3,0.05)", net));
  comps.push_back(parse_composite("0:zbox;1-:alphabeta(stab=quadratic)", net));
  const std::vector<int64_t> targets = {-1, 3, -1};
  const Explanation all = explain(net, x, targets, comps);
  EXPECT_LT(all.shared_rows, 3 * static_cast<int64_t>(comps.size()) + 1);
  for (size_t k = 0; k < comps.size(); ++k) {
    const Explanation one = explain(net, x, targets, {comps[k]});
    EXPECT_LE(
        test::rel_l2(all.relevance.select(1, static_cast<int64_t>(k)), one.relevance.select(1, 0)),
        1e-5)
        << canonical_form(comps[k], net);
    for (size_t i = 0; i < 3; ++i)
      EXPECT_NEAR(all.diagnostics[i][k].relevance_sum, one.diagnostics[i][0].relevance_sum,
                  1e-5 * (1 + std::fabs(one.diagnostics[i][0].relevance_sum)));
  }
}

TEST(Engine, BatchingNeverChangesAResult) {
  const Network net = test::shipped_fashion_vgg();
  // Seeded noise, not Fashion-MNIST: its flat backgrounds give max-pool windows of exactly
  // equal values, and convolution kernels that differ by batch size (oneDNN picks them per
  // shape and CPU) break such ties in different windows in the last bit, moving relevance
  // between pixels. The property under test is the engine's own: per-sample stabilizer means
  // and rows that never mix.
  at::Generator gen = at::detail::createCPUGenerator(7);
  const at::Tensor x = at::randn({4, 1, 28, 28}, gen);
  const Composite c = parse_composite("0:zbox;1-14:epsilon(0.5,stab=quadratic);15-:zero", net);
  const Explanation batch = explain(net, x, {-1, -1, -1, -1}, {c});
  for (int64_t i = 0; i < 4; ++i) {
    const Explanation one = explain(net, x.slice(0, i, i + 1), {-1}, {c});
    EXPECT_LE(test::rel_l2(batch.relevance[i], one.relevance[0]), 1e-5);
  }
}

// Modified weights are cached across calls; an in-place update of a weight (a training step)
// must not give the old explanation, and a cache of size 0 must give the same numbers.
TEST(Engine, WeightCacheIsExactAndNeverStale) {
  Network net = test::shipped_fashion_vgg();
  const at::Tensor x = fashion_images(net, 2);
  const Composite c = tutorial_composite(net, 0.25, 0.01);
  const at::Tensor first = explain(net, x, {-1, -1}, {c}).relevance;
  const size_t hits = weight_cache_hits();
  const at::Tensor again = explain(net, x, {-1, -1}, {c}).relevance;
  EXPECT_GT(weight_cache_hits(), hits);  // the second call found its weights
  EXPECT_TRUE(at::equal(first, again));
  set_weight_cache_budget(0);
  EXPECT_EQ(weight_cache_bytes(), 0u);
  EXPECT_TRUE(at::equal(explain(net, x, {-1, -1}, {c}).relevance, first));
  set_weight_cache_budget(std::size_t{256} << 20);
  explain(net, x, {-1, -1}, {c});
  EXPECT_GT(weight_cache_bytes(), 0u);
  // Scale every conv weight in place: a copy of the scaled network, which the cache has never
  // seen, is the reference.
  for (Layer& l : net.layers)
    if (l.kind == LayerKind::Conv2d) l.weight.mul_(1.5);
  Network copy = net;
  for (Layer& l : copy.layers)
    if (l.weight.defined()) l.weight = l.weight.clone();
  const at::Tensor updated = explain(net, x, {-1, -1}, {c}).relevance;
  EXPECT_TRUE(at::equal(updated, explain(copy, x, {-1, -1}, {c}).relevance));
  EXPECT_FALSE(at::equal(updated, first));
}

TEST(Engine, NegativeLogitIsReported) {
  const Network net = test::shipped_fashion_vgg();
  const at::Tensor x = fashion_images(net, 1);
  const at::Tensor logits = forward(net, x);
  const int64_t worst = logits[0].argmin().item<int64_t>();
  ASSERT_LT(logits[0][worst].item<double>(), 0);
  const Explanation e = explain(net, x, {worst}, {parse_composite("tutorial", net)});
  EXPECT_TRUE(e.diagnostics[0][0].negative_logit);
  EXPECT_EQ(e.diagnostics[0][0].target, worst);
}

}  // namespace
}  // namespace lrpbench
