// Pixel-flipping (SPEC sections 3 and 4): patches, orders, schedules, modes, curves, AUC.
#include <gtest/gtest.h>

#include <numeric>

#include "data/fashion_mnist.h"
#include "data/image.h"
#include "helpers.h"
#include "lrp/composite.h"
#include "lrp/engine.h"
#include "perturbation/curves.h"
#include "perturbation/evaluation.h"
#include "perturbation/schedule.h"
#include "util/error.h"

namespace lrpbench {
namespace {

TEST(Patches, DivisibleAndEdgeGrids) {
  const PatchGrid g = make_grid(224, 224, 8);
  EXPECT_EQ(g.count(), 784);
  EXPECT_FALSE(g.edge_patches());
  const PatchGrid e = make_grid(10, 7, 4);  // rows 4,4,2; cols 4,3
  EXPECT_EQ(e.rows, 3);
  EXPECT_EQ(e.cols, 2);
  EXPECT_TRUE(e.edge_patches());
  int64_t y0, y1, x0, x1;
  e.bounds(5, &y0, &y1, &x0, &x1);  // last patch: row 2, col 1
  EXPECT_EQ(std::vector<int64_t>({y0, y1, x0, x1}), std::vector<int64_t>({8, 10, 4, 7}));
  int64_t area = 0;
  for (int64_t p = 0; p < e.count(); ++p) {
    e.bounds(p, &y0, &y1, &x0, &x1);
    area += (y1 - y0) * (x1 - x0);
  }
  EXPECT_EQ(area, 70);
  EXPECT_THROW(make_grid(28, 28, 29), InputError);
  EXPECT_THROW(make_grid(28, 28, 0), InputError);
}

TEST(Patches, ScoresSumAndLuma) {
  at::Generator gen = at::detail::createCPUGenerator(0);
  const at::Tensor r = at::randn({3, 10, 7}, gen, at::kDouble);
  const PatchGrid g = make_grid(10, 7, 4);
  const auto s = patch_scores(r, g, "sum");
  EXPECT_NEAR(std::accumulate(s.begin(), s.end(), 0.0), r.sum().item<double>(), 1e-9);
  EXPECT_NEAR(s[5], r.slice(1, 8, 10).slice(2, 4, 7).sum().item<double>(), 1e-9);
  const auto l = patch_scores(r, g, "luma");
  const at::Tensor p = r.slice(1, 0, 4).slice(2, 0, 4).sum({1, 2});
  EXPECT_NEAR(
      l[0],
      0.2989 * p[0].item<double>() + 0.587 * p[1].item<double>() + 0.114 * p[2].item<double>(),
      1e-9);
  const at::Tensor one = r.narrow(0, 0, 1);
  EXPECT_NEAR(patch_scores(one, g, "luma")[2], patch_scores(one, g, "sum")[2], 1e-12);
}

TEST(Orders, TiesBreakByPatchIndex) {
  const std::vector<double> s = {1, 3, 3, 0, 1};
  EXPECT_EQ(flip_order(Order::Morf, s, 0, 0), std::vector<int64_t>({1, 2, 0, 4, 3}));
  EXPECT_EQ(flip_order(Order::Lrf, s, 0, 0), std::vector<int64_t>({3, 0, 4, 1, 2}));
}

TEST(Orders, RandomDependsOnSeedAndImageOnly) {
  const std::vector<double> a(50, 0.0), b(50, 1.0);
  const auto r = flip_order(Order::Random, a, 0, 7);
  EXPECT_EQ(r, flip_order(Order::Random, b, 0, 7));  // never on the relevance
  EXPECT_NE(r, flip_order(Order::Random, a, 0, 8));
  EXPECT_NE(r, flip_order(Order::Random, a, 1, 7));
  auto sorted = r;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> iota(50);
  std::iota(iota.begin(), iota.end(), 0);
  EXPECT_EQ(sorted, iota);
  EXPECT_THROW(parse_orders("morf,up"), InputError);
}

TEST(Schedules, CountsSumToThePatches) {
  for (const std::string t : {"quadratic", "pow2", "linear:7", "list:3,1,4", "list:500"})
    for (int64_t n : {1, 5, 196, 784, 1000}) {
      const auto c = step_counts(parse_schedule(t), n);
      EXPECT_EQ(std::accumulate(c.begin(), c.end(), int64_t{0}), n) << t << " " << n;
      for (int64_t v : c) EXPECT_GT(v, 0) << t;
    }
  const auto q = step_counts(parse_schedule("quadratic"), 784);
  ASSERT_EQ(q.size(), 28u);
  int64_t cum = 0;
  for (size_t k = 0; k < q.size(); ++k) EXPECT_EQ(cum += q[k], int64_t((k + 1) * (k + 1)));
  EXPECT_EQ(step_counts(parse_schedule("quadratic"), 196).size(), 14u);
  EXPECT_EQ(step_counts(parse_schedule("pow2"), 20), std::vector<int64_t>({1, 1, 2, 4, 8, 4}));
  EXPECT_EQ(step_counts(parse_schedule("list:3,1"), 10), std::vector<int64_t>({3, 1, 6}));
  EXPECT_THROW(parse_schedule("cubic"), InputError);
  EXPECT_THROW(parse_schedule("linear:0"), InputError);
}

TEST(Modes, InpaintingKeepsUnmaskedPixelsAndFullMaskIsGray) {
  const std::string photo = test::darknet_photo("dog.jpg");
  const std::vector<double> mean = {0.485, 0.456, 0.406}, std = {0.229, 0.224, 0.225};
  const at::Tensor x = normalize(load_image(photo, 3, "256-crop224", 224), mean, std);
  const ImageContext ctx = make_context(x, mean, std, 8, 0);
  PFSettings s;
  for (const std::string mode : {"telea", "ns"}) {
    s.mode = mode;
    const std::vector<std::vector<int64_t>> steps = {{0, 5, 40}, {300, 301}};
    const at::Tensor out = render(ctx, s, steps, steps.size());
    const auto mask = patch_mask(ctx.grid, {0, 5, 40, 300, 301});
    const at::Tensor m =
        at::from_blob(const_cast<uint8_t*>(mask.data()), {224, 224}, at::kByte).to(at::kBool);
    EXPECT_TRUE(at::equal(out.masked_select(~m.expand({3, 224, 224})),
                          x.masked_select(~m.expand({3, 224, 224}))));
    EXPECT_FALSE(at::equal(out, x));
    // Masked pixels are 8-bit values: de-normalised, they land on k/255.
    const at::Tensor px = denormalize(out, mean, std).masked_select(m.expand({3, 224, 224})) * 255;
    EXPECT_LT((px - px.round()).abs().max().item<double>(), 1e-3);
    const at::Tensor full = render(ctx, s, {std::vector<int64_t>(784)}, 1);
    EXPECT_TRUE(
        at::allclose(denormalize(full, mean, std), at::full({3, 224, 224}, 0.5), 1e-6, 1e-6));
  }
}

TEST(Modes, RandomModesAreSeededPerStepAndKeepOtherPixels) {
  at::Generator gen = at::detail::createCPUGenerator(0);
  const at::Tensor x = at::randn({1, 8, 8}, gen);
  const ImageContext ctx = make_context(x, {0.5}, {0.25}, 2, 3);
  PFSettings s;
  s.mode = "random";
  const at::Tensor a = render(ctx, s, {{0}, {5}}, 2);
  EXPECT_TRUE(at::equal(a, render(ctx, s, {{0}, {5}}, 2)));
  EXPECT_EQ(a[0][0][0].item<float>(), a[0][1][1].item<float>());  // one value per step
  EXPECT_NE(a[0][0][0].item<float>(), a[0][2][2].item<float>());  // patch 5 is step 2
  EXPECT_GE(a.min().item<double>(), ctx.min);
  EXPECT_LE(a.max().item<double>(), ctx.max);
  EXPECT_TRUE(at::equal(a[0][7], x[0][7]));
  s.mode = "random-pixel";
  const at::Tensor p = render(ctx, s, {{0}}, 1);
  EXPECT_NE(p[0][0][0].item<float>(), p[0][1][1].item<float>());
  s.mode = "constant";
  s.fill = "black";
  EXPECT_FLOAT_EQ(render(ctx, s, {{0}}, 1)[0][0][0].item<float>(), -2.0f);
}

// A dense 2-class model on 1x8x8 inputs with known weights; normalisation is the identity.
Network linear_model(const at::Tensor& w) {
  return test::dense_8x8_model(at::stack({w.flatten(), -w.flatten()}), at::zeros({2}));
}

TEST(Curves, LinearModelMorfCurveIsAnalytic) {
  at::Generator gen = at::detail::createCPUGenerator(1);
  const at::Tensor w = at::randn({8, 8}, gen);
  const at::Tensor x = at::rand({1, 8, 8}, gen);
  const Network net = linear_model(w);
  PFSettings s;
  s.patch = 4;
  s.mode = "constant";
  s.fill = "gray";
  s.schedule = parse_schedule("linear:1");
  const ImageContext ctx = make_context(x, net.mean, net.std, 4, 0);
  const at::Tensor rel = (w * x[0]).unsqueeze(0);  // LRP-0 of a bias-free linear model
  const PFOutcome out = score_curves(net, {{&ctx, 0, {{Order::Morf, rel}}}}, s);
  // By hand: patch contributions, flipped in descending order, each replaced by 0.5 * w.
  std::vector<std::pair<double, int>> contrib;
  for (int p = 0; p < 4; ++p) {
    const at::Tensor sl =
        rel[0].slice(0, (p / 2) * 4, (p / 2) * 4 + 4).slice(1, (p % 2) * 4, (p % 2) * 4 + 4);
    contrib.push_back({sl.sum().item<double>(), p});
  }
  std::stable_sort(contrib.begin(), contrib.end(),
                   [](auto& a, auto& b) { return a.first > b.first; });
  double f = (w * x[0]).sum().item<double>();
  std::vector<double> want = {f};
  for (const auto& [c, p] : contrib) {
    const at::Tensor ws =
        w.slice(0, (p / 2) * 4, (p / 2) * 4 + 4).slice(1, (p % 2) * 4, (p % 2) * 4 + 4);
    f += -c + 0.5 * ws.sum().item<double>();
    want.push_back(f);
  }
  const PFCurve& c = out.curves[0][0];
  ASSERT_EQ(c.scores.size(), 5u);
  for (size_t k = 0; k < 5; ++k) EXPECT_NEAR(c.scores[k], want[k], 1e-5) << k;
  EXPECT_EQ(c.flipped, std::vector<int64_t>({0, 1, 2, 3, 4}));
  EXPECT_NEAR(auc(c.scores), (want[0] + want[4]) / 2 + want[1] + want[2] + want[3], 1e-5);
}

TEST(Curves, ThesisPresetHasKPlus2PointsOnATinyNet) {
  at::Generator gen = at::detail::createCPUGenerator(2);
  const at::Tensor w = at::randn({8, 8}, gen);
  const at::Tensor x = at::rand({1, 8, 8}, gen);
  const Network net = linear_model(w);
  PFSettings s;
  s.apply_thesis_preset();
  s.patch = 2;  // 16 patches: quadratic gives 1, 3, 5, 7 -> K = 4
  const ImageContext ctx = make_context(x, net.mean, net.std, 2, 0);
  const at::Tensor rel = (w * x[0]).unsqueeze(0);
  const PFOutcome out = score_curves(net, {{&ctx, 0, {{Order::Morf, rel}}}}, s);
  const PFCurve& c = out.curves[0][0];
  ASSERT_EQ(c.scores.size(), 6u);  // K + 2
  const auto steps = job_steps(ctx, {Order::Morf, rel}, s);
  ASSERT_EQ(steps.size(), 4u);
  std::vector<double> want;
  for (size_t k = 0; k < 4; ++k) {
    want.push_back((render(ctx, s, steps, k)[0] * w).sum().item<double>());
  }
  want.push_back(want.back());  // the full-mask step repeats step K-1
  const double mid = (x.min().item<double>() + x.max().item<double>()) / 2;
  want.push_back(mid * w.sum().item<double>());
  for (size_t k = 0; k < 6; ++k) EXPECT_NEAR(c.scores[k], want[k], 1e-5) << k;
  double a = 0;
  for (size_t k = 0; k < 5; ++k) a += (want[k] + want[k + 1]) / 2;
  EXPECT_NEAR(auc(c.scores), a, 1e-5);
  EXPECT_EQ(out.stats.points, 5);  // the repeated point is not forwarded
}

TEST(Auc, Definitions) {
  const std::vector<double> f = {4, 2, 1}, frac = {0, 0.5, 1};
  EXPECT_DOUBLE_EQ(auc(f), 3 + 1.5);
  EXPECT_DOUBLE_EQ(*auc_normalized(f, frac), 0.5 * (1 + 0.5) / 2 + 0.5 * (0.5 + 0.25) / 2);
  EXPECT_DOUBLE_EQ(aopc(f), (0 + 2 + 3) / 3.0);
  EXPECT_FALSE(auc_normalized({-1, 2}, {0, 1}).has_value());
  const BatchScores b = score_batch({score_curve(f, frac), score_curve({-1, 0, 1}, frac)});
  EXPECT_DOUBLE_EQ(b.auc, (4.5 + 0) / 2);
  EXPECT_EQ(b.auc_normalized_undefined, 1);
  EXPECT_DOUBLE_EQ(*b.auc_normalized, *auc_normalized(f, frac));
}

struct FashionEval {
  Network net = test::shipped_fashion_vgg();
  at::Tensor x, rel;
  std::vector<int64_t> targets, seeds;
  explicit FashionEval(int64_t n) {
    const Dataset d = load_fashion_mnist("test");
    x = normalize(d.images.slice(0, 0, n), net.mean, net.std);
    targets.assign(d.labels.begin(), d.labels.begin() + n);
    for (int64_t i = 0; i < n; ++i) seeds.push_back(i);
    rel = explain_in_batches(net, x, targets, parse_composite("tutorial", net), 64);
  }
};

TEST(Curves, OrdersRankAsExpectedOnShippedFashionVgg) {
  const FashionEval f(100);
  PFSettings s;
  s.patch = 2;
  const std::vector<Order> orders = {Order::Morf, Order::Lrf, Order::Random};
  const Evaluation e = evaluate_explanations(f.net, f.x, f.rel, f.targets, f.seeds, orders, s);
  EXPECT_LT(e.batch[0].auc, e.batch[2].auc);
  EXPECT_LT(e.batch[2].auc, e.batch[1].auc);
  // A random relevance map: MoRF no better than chance, and worse than LRP's.
  at::Generator gen = at::detail::createCPUGenerator(5);
  const at::Tensor noise = at::randn(f.rel.sizes(), gen);
  const Evaluation r = evaluate_explanations(f.net, f.x, noise, f.targets, f.seeds, orders, s);
  EXPECT_LT(e.batch[0].auc, r.batch[0].auc);
  // The random order never depends on the relevance.
  for (size_t i = 0; i < 100; ++i) EXPECT_EQ(e.curves[i][2].scores, r.curves[i][2].scores) << i;
  // Every image's random-order points are forwarded once: step 0 and the gray image are
  // shared by all orders, so hits come from them and the random order of both maps.
  EXPECT_GT(e.stats.hits(), 0);
}

TEST(Curves, DeterministicAndCacheOnlyChangesBatching) {
  const FashionEval f(6);
  PFSettings s;
  s.patch = 2;
  s.batch = 16;
  const std::vector<Order> orders = {Order::Morf, Order::Lrf, Order::Random};
  for (const std::string mode : {"telea", "random", "constant"}) {
    s.mode = mode;
    s.cache = true;
    const Evaluation a = evaluate_explanations(f.net, f.x, f.rel, f.targets, f.seeds, orders, s);
    const Evaluation b = evaluate_explanations(f.net, f.x, f.rel, f.targets, f.seeds, orders, s);
    s.cache = false;
    const Evaluation u = evaluate_explanations(f.net, f.x, f.rel, f.targets, f.seeds, orders, s);
    EXPECT_GT(a.stats.hits(), 0) << mode;
    EXPECT_EQ(u.stats.hits(), 0) << mode;
    for (size_t i = 0; i < 6; ++i)
      for (size_t o = 0; o < 3; ++o) {
        EXPECT_EQ(a.curves[i][o].scores, b.curves[i][o].scores) << mode;  // bitwise
        const auto& ca = a.curves[i][o].scores;
        const auto& cu = u.curves[i][o].scores;
        for (size_t k = 0; k < ca.size(); ++k)
          EXPECT_NEAR(ca[k], cu[k], 1e-5 * (1 + std::fabs(cu[k]))) << mode << " " << k;
      }
  }
}

}  // namespace
}  // namespace lrpbench
