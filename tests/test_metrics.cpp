// Metrics of explanations (docs/method.md section 5): analytic cases, shared work, seeds,
// undefined values and refusals.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "data/fashion_mnist.h"
#include "data/imagenet_labels.h"
#include "data/input.h"
#include "data/loc_csv.h"
#include "data/image.h"
#include "helpers.h"
#include "lrp/composite.h"
#include "lrp/engine.h"
#include "perturbation/metric.h"
#include "report/agreement.h"
#include "util/error.h"
#include "util/npy.h"

namespace lrpbench {
namespace {

MetricValues score(const std::string& name, const MetricImage& img, const at::Tensor& rel,
                   MetricOptions opt = {}) {
  return find_metric(name).score(img, rel, opt);
}

// f(x) = w.x on 1 x 8 x 8 inputs whose pixel value 0 is the input 0 (mean 0, std 1).
Network linear_model() {
  at::Generator gen = at::detail::createCPUGenerator(3);
  return test::dense_8x8_model(at::randn({2, 64}, gen, at::TensorOptions().dtype(at::kFloat)));
}

// Fashion-MNIST test image `index` for `net`, with its target.
MetricImage fashion_image(const Network& net, int64_t index, int64_t target) {
  static const Dataset d = load_fashion_mnist("test");
  MetricImage img;
  img.net = &net;
  img.x = normalize(d.images.slice(0, index, index + 1), net.mean, net.std);
  img.target = target;
  img.index = index;
  return img;
}

TEST(Metrics, SparsenessAndComplexityAnalytic) {
  const int64_t n = 49;
  at::Tensor one = at::zeros({1, 1, 7, 7});
  one[0][0][3][4] = -2.5;  // the sign does not matter: |r|
  const at::Tensor uniform = at::full({1, 1, 7, 7}, 0.3);
  const MetricImage img;
  EXPECT_NEAR(*score("sparseness", img, one)[0], (n - 1.0) / n, 1e-12);
  EXPECT_NEAR(*score("sparseness", img, uniform)[0], 0.0, 1e-12);
  EXPECT_NEAR(*score("complexity", img, one)[0], 0.0, 1e-12);
  EXPECT_NEAR(*score("complexity", img, uniform)[0], std::log(49.0), 1e-12);
  // Channels are summed before |.|: +1 and -1 on one pixel cancel to a zero map: undefined.
  at::Tensor cancel = at::zeros({1, 2, 7, 7});
  cancel[0][0][1][1] = 1.0;
  cancel[0][1][1][1] = -1.0;
  EXPECT_FALSE(score("sparseness", img, cancel)[0].has_value());
  EXPECT_FALSE(score("complexity", img, cancel)[0].has_value());
  // Two configurations in one call: one value each.
  const MetricValues two = score("sparseness", img, at::cat({one, uniform}));
  ASSERT_EQ(two.size(), 2u);
  EXPECT_NEAR(*two[1], 0.0, 1e-12);
}

TEST(Metrics, LocalisationAnalytic) {
  MetricImage img;
  img.mask = at::zeros({10, 10}, at::kBool);
  img.mask.slice(0, 2, 5).slice(1, 2, 5).fill_(true);
  at::Tensor inside = at::zeros({1, 1, 10, 10});
  inside[0][0][3][3] = 2.0;
  inside[0][0][2][4] = 1.0;
  at::Tensor half = inside.clone();
  half[0][0][8][8] = 3.0;   // outside, and the maximum
  half[0][0][9][0] = -5.0;  // negative relevance counts nowhere
  EXPECT_NEAR(*score("relevance-mass", img, inside)[0], 1.0, 1e-12);
  EXPECT_NEAR(*score("relevance-mass", img, half)[0], 0.5, 1e-12);
  EXPECT_EQ(*score("pointing-game", img, inside)[0], 1.0);
  MetricOptions tol;
  tol.pg_tolerance = 1;
  EXPECT_EQ(*score("pointing-game", img, half, tol)[0], 0.0);  // (8, 8): 5.66 px from (4, 4)
  tol.pg_tolerance = 5;
  EXPECT_EQ(*score("pointing-game", img, half, tol)[0], 0.0);
  tol.pg_tolerance = 6;
  EXPECT_EQ(*score("pointing-game", img, half, tol)[0], 1.0);
  // No mask, or an empty one: undefined.
  MetricImage none;
  EXPECT_FALSE(score("relevance-mass", none, inside)[0].has_value());
  none.mask = at::zeros({10, 10}, at::kBool);
  EXPECT_FALSE(score("pointing-game", none, inside)[0].has_value());
}

// A linear model explained by w * x (its exact decomposition): removing a subset drops the
// logit by exactly the subset's relevance, so the correlation is 1 whatever the subsets.
TEST(Metrics, FaithfulnessCorrelationIsOneOnALinearModel) {
  const Network net = linear_model();
  at::Generator gen = at::detail::createCPUGenerator(5);
  MetricImage img;
  img.net = &net;
  img.x = at::randn({1, 1, 8, 8}, gen);
  img.target = 1;
  const at::Tensor rel = (net.layers[1].weight[1].view({1, 1, 8, 8}) * img.x);
  MetricOptions opt;
  opt.fc_runs = 30;
  EXPECT_NEAR(*score("faithfulness-correlation", img, rel, opt)[0], 1.0, 1e-6);
  // A map unrelated to the model correlates less; a constant one is undefined.
  EXPECT_LT(*score("faithfulness-correlation", img, at::randn({1, 1, 8, 8}, gen), opt)[0], 0.9);
  EXPECT_FALSE(
      score("faithfulness-correlation", img, at::ones({1, 1, 8, 8}), opt)[0].has_value());
}

// The perturbed images do not depend on the configuration: K maps cost the forwards of one,
// and each map gets the value it gets alone. Seeds make the values bit-reproducible.
TEST(Metrics, FaithfulnessCorrelationSharesItsForwards) {
  const Network net = test::shipped_fashion_vgg();
  MetricImage img = fashion_image(net, 0, 9);
  std::vector<at::Tensor> maps;
  for (const char* c : {"tutorial", "zero", "epsilon-plus", "decreasing-gamma"})
    maps.push_back(explain(net, img.x, {9}, {parse_composite(c, net)}).relevance.select(1, 0));
  const at::Tensor all = at::cat(maps);
  MetricOptions opt;
  opt.fc_runs = 20;
  const int64_t before = metric_detail::forwarded_inputs();
  const MetricValues one = score("faithfulness-correlation", img, maps[0], opt);
  const int64_t single = metric_detail::forwarded_inputs() - before;
  const MetricValues four = score("faithfulness-correlation", img, all, opt);
  EXPECT_EQ(metric_detail::forwarded_inputs() - before - single, single);
  EXPECT_EQ(single, 21);  // the image and its 20 perturbed copies
  EXPECT_EQ(*four[0], *one[0]);
  EXPECT_EQ(score("faithfulness-correlation", img, all, opt), four);  // bit for bit
  // Forward batches of another size: the same values (to float precision: oneDNN picks
  // kernels by batch shape).
  MetricOptions small = opt;
  small.batch = 3;
  const MetricValues batched = score("faithfulness-correlation", img, all, small);
  for (size_t k = 0; k < four.size(); ++k) EXPECT_NEAR(*batched[k], *four[k], 1e-6);
  for (const char* name : {"irof", "road-morf"}) {
    const MetricValues a = score(name, img, all, opt), b = score(name, img, all, small);
    for (size_t k = 0; k < a.size(); ++k) EXPECT_NEAR(*a[k], *b[k], 1e-6) << name;
  }
  opt.seed = 1;
  EXPECT_NE(*score("faithfulness-correlation", img, maps[0], opt)[0], *one[0]);
}

TEST(Metrics, MaxSensitivity) {
  const Network net = test::shipped_fashion_vgg();
  MetricImage img = fashion_image(net, 1, 2);
  const Composite c = parse_composite("tutorial", net);
  const at::Tensor rel = explain(net, img.x, {2}, {c}).relevance.select(1, 0);
  // An explanation that does not depend on the input: 0.
  img.explain = [&](const at::Tensor& in) {
    return rel.unsqueeze(1).expand({in.size(0), 1, 1, 28, 28}).contiguous();
  };
  MetricOptions opt;
  opt.ms_samples = 4;
  EXPECT_EQ(*score("max-sensitivity", img, rel, opt)[0], 0.0);
  // LRP itself: a positive value, the same for the same seed, one engine call per image.
  int calls = 0;
  img.explain = [&](const at::Tensor& in) {
    ++calls;
    std::vector<int64_t> t(static_cast<size_t>(in.size(0)), 2);
    return explain(net, in, t, {c}).relevance;
  };
  const double v = *score("max-sensitivity", img, rel, opt)[0];
  EXPECT_GT(v, 0.0);
  EXPECT_LT(v, 10.0);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(*score("max-sensitivity", img, rel, opt)[0], v);
  img.explain = nullptr;
  EXPECT_THROW(score("max-sensitivity", img, rel, opt), InputError);
}

// A model whose output ignores the input: both classes at probability 1/2 at every step, so
// deletion and insertion are 1/2 (the AUC over fractions 0 .. 1) whatever the explanation.
TEST(Metrics, DeletionAndInsertionAnalytic) {
  Network net = linear_model();
  net.layers[1].weight.zero_();
  at::Generator gen = at::detail::createCPUGenerator(8);
  MetricImage img;
  img.net = &net;
  img.x = at::rand({1, 1, 8, 8}, gen);
  img.target = 0;
  MetricOptions opt;
  opt.pf.patch = 2;
  const at::Tensor rel = at::randn({3, 1, 8, 8}, gen);
  for (const char* name : {"deletion", "insertion"}) {
    const MetricValues v = score(name, img, rel, opt);
    ASSERT_EQ(v.size(), 3u);
    for (const auto& x : v) EXPECT_NEAR(*x, 0.5, 1e-7) << name;
  }
}

// On the shipped fashion-vgg, putting patches back in the explanation's order restores the
// class faster than in the reverse order (deletion with black, Fashion-MNIST's own background,
// makes no such promise); a configuration scored with others gets its value alone.
TEST(Metrics, DeletionAndInsertionFollowTheExplanation) {
  const Network net = test::shipped_fashion_vgg();
  MetricImage img = fashion_image(net, 0, 9);
  const at::Tensor rel = explain(net, img.x, {9}, {parse_composite("tutorial", net)})
                             .relevance.select(1, 0);
  MetricOptions opt;
  opt.pf.patch = 2;
  const at::Tensor both = at::cat({rel, -rel});
  const MetricValues del = score("deletion", img, both, opt);
  const MetricValues ins = score("insertion", img, both, opt);
  EXPECT_GT(*ins[0], *ins[1]);
  for (const auto& v : del) EXPECT_TRUE(*v >= 0 && *v <= 1);
  // Batches of other sizes may pick other oneDNN kernels: equal to float precision.
  EXPECT_NEAR(*score("deletion", img, rel, opt)[0], *del[0], 1e-6);
  EXPECT_NEAR(*score("insertion", img, rel, opt)[0], *ins[0], 1e-6);
}

// SLIC's superpixels partition the image; with a model that ignores its input every ratio
// f_k / f_0 is 1, so IROF = 1 - 1 = 0 for any explanation.
TEST(Metrics, IrofAnalytic) {
  Network net = linear_model();
  net.layers[1].weight.zero_();
  at::Generator gen = at::detail::createCPUGenerator(9);
  MetricImage img;
  img.net = &net;
  img.x = at::rand({1, 1, 8, 8}, gen);
  img.target = 1;
  const auto segs = slic_segments(img.x[0], net, 2);
  std::vector<int> seen(64, 0);
  for (const auto& s : segs)
    for (int64_t i : s) ++seen[static_cast<size_t>(i)];
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), 64);
  EXPECT_GT(segs.size(), 4u);
  const MetricValues v = score("irof", img, at::randn({2, 1, 8, 8}, gen));
  ASSERT_EQ(v.size(), 2u);
  for (const auto& x : v) EXPECT_NEAR(*x, 0.0, 1e-9);
}

// ROAD's imputation (noise 0) reproduces a linear ramp exactly at removed pixels away from the
// border (the 8-neighbour stencil is symmetric); kept pixels never change.
TEST(Metrics, RoadImputationReproducesALinearRamp) {
  const int64_t h = 12, w = 14;
  at::Tensor ramp = at::empty({2, h, w}, at::kDouble);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      ramp[0][y][x] = 0.01 * y + 0.02 * x + 0.1;
      ramp[1][y][x] = 0.9 - 0.03 * y + 0.005 * x;
    }
  std::vector<uint8_t> removed(static_cast<size_t>(h * w), 0);
  for (int64_t y = 3; y < 9; ++y)
    for (int64_t x = 2; x < 7; ++x) removed[static_cast<size_t>(y * w + x)] = 1;
  removed[static_cast<size_t>(1 * w + 10)] = 1;  // a lone interior pixel
  removed[static_cast<size_t>(10 * w + 12)] = 1;
  const at::Tensor got = road_impute(ramp, removed);
  EXPECT_LT((got - ramp).abs().max().item<double>(), 1e-12);
  // At the border the renormalised stencil is not symmetric: the ramp is not reproduced there.
  removed.assign(removed.size(), 0);
  removed[0] = 1;
  EXPECT_GT((road_impute(ramp, removed) - ramp).abs().max().item<double>(), 1e-4);
}

// ROAD's imputation equals a dense solve of the row-normalised system (each removed pixel the
// weighted mean of its neighbours), built here independently, on a random image and mask with
// removed pixels at the border and in large blocks.
TEST(Metrics, RoadImputationEqualsADenseSolve) {
  const int64_t h = 11, w = 9, ch = 3;
  at::Generator gen = at::detail::createCPUGenerator(4);
  const at::Tensor img = at::rand({ch, h, w}, gen, at::TensorOptions().dtype(at::kDouble));
  const at::Tensor coin = at::rand({h * w}, gen, at::TensorOptions().dtype(at::kDouble));
  std::vector<uint8_t> removed(static_cast<size_t>(h * w));
  std::vector<int64_t> index(static_cast<size_t>(h * w), -1);
  int64_t m = 0;
  for (int64_t i = 0; i < h * w; ++i) {
    removed[static_cast<size_t>(i)] = coin[i].item<double>() < 0.6;
    if (removed[static_cast<size_t>(i)]) index[static_cast<size_t>(i)] = m++;
  }
  at::Tensor a = at::zeros({m, m}, at::kDouble), b = at::zeros({m, ch}, at::kDouble);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const int64_t row = index[static_cast<size_t>(y * w + x)];
      if (row < 0) continue;
      double total = 0;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx)
          if ((dy || dx) && y + dy >= 0 && y + dy < h && x + dx >= 0 && x + dx < w)
            total += (dy && dx) ? 1.0 / 12 : 1.0 / 6;
      a[row][row] = 1.0;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          if (!(dy || dx) || y + dy < 0 || y + dy >= h || x + dx < 0 || x + dx >= w) continue;
          const double wt = ((dy && dx) ? 1.0 / 12 : 1.0 / 6) / total;
          const int64_t col = index[static_cast<size_t>((y + dy) * w + x + dx)];
          if (col >= 0)
            a[row][col] = -wt;
          else
            b[row] += wt * img.select(1, y + dy).select(1, x + dx);
        }
    }
  const at::Tensor u = at::linalg_solve(a, b);  // m x ch
  const at::Tensor got = road_impute(img, removed);
  double worst = 0, kept = 0;
  for (int64_t i = 0; i < h * w; ++i) {
    const at::Tensor g = got.flatten(1).select(1, i);
    const int64_t row = index[static_cast<size_t>(i)];
    if (row >= 0)
      worst = std::max(worst, (g - u[row]).abs().max().item<double>());
    else
      kept = std::max(kept, (g - img.flatten(1).select(1, i)).abs().max().item<double>());
  }
  EXPECT_GT(m, 40);
  EXPECT_LT(worst, 1e-12);
  EXPECT_EQ(kept, 0.0);
}

// A model that ignores its input: probability 1/2 at every fraction, so both ROAD AUCs are
// 1/2 x (0.9 - 0.1) = 0.4 whatever the explanation; the noise fields are seeded per image and
// fraction, so a second call gives the same values.
TEST(Metrics, RoadAnalytic) {
  Network net = linear_model();
  net.layers[1].weight.zero_();
  at::Generator gen = at::detail::createCPUGenerator(10);
  MetricImage img;
  img.net = &net;
  img.x = at::rand({1, 1, 8, 8}, gen);
  for (const char* name : {"road-morf", "road-lerf"})
    for (const auto& v : score(name, img, at::randn({2, 1, 8, 8}, gen)))
      EXPECT_NEAR(*v, 0.4, 1e-7) << name;
  const Network fashion = test::shipped_fashion_vgg();
  static const Dataset d = load_fashion_mnist("test");
  img.net = &fashion;
  img.x = normalize(d.images.slice(0, 0, 1), fashion.mean, fashion.std);
  img.target = 9;
  const at::Tensor rel = explain(fashion, img.x, {9}, {parse_composite("tutorial", fashion)})
                             .relevance.select(1, 0);
  MetricOptions opt;
  opt.road_fractions = {0.2, 0.5, 0.8};
  const MetricValues morf = score("road-morf", img, rel, opt);
  EXPECT_EQ(score("road-morf", img, rel, opt), morf);
  // Removing the most relevant pixels hurts more than removing the least relevant ones.
  EXPECT_LT(*morf[0], *score("road-lerf", img, rel, opt)[0]);
}

TEST(Metrics, BadNamesAndOptionsAreInputErrors) {
  EXPECT_THROW(parse_metrics("sparseness,bogus"), InputError);
  EXPECT_THROW(parse_metrics("sparseness,sparseness"), InputError);
  EXPECT_THROW(parse_metrics(""), InputError);
  EXPECT_EQ(parse_metrics("complexity,sparseness").size(), 2u);
  MetricOptions o;
  o.fc_runs = 1;
  EXPECT_THROW(o.check(), InputError);
  o = {};
  o.road_fractions = {0.2, 0.1};
  EXPECT_THROW(o.check(), InputError);
  const std::pair<std::optional<double>, int64_t> m =
      mean_defined({1.0, std::nullopt, 3.0, std::optional<double>(NAN)});
  EXPECT_EQ(*m.first, 2.0);  // never NaN in a mean
  EXPECT_EQ(m.second, 2);
}

// The command line: metrics in evaluate.json, refusals with exit 2 and one line.
TEST(Metrics, EvaluateWritesMetricsAndRefusesBadRequests) {
  const std::string out = ::testing::TempDir() + "/metrics_eval";
  std::filesystem::remove_all(out);
  const std::string base = test::binary() + " evaluate --dataset fashion-mnist --indices 0-2 "
                                            "--threads 2 --out " + out;
  std::string err;
  ASSERT_EQ(test::run_command(base + " --composite tutorial --metrics "
                                     "sparseness,complexity,faithfulness-correlation,"
                                     "relevance-mass,pointing-game,max-sensitivity,"
                                     "deletion,insertion,irof,road-morf,road-lerf "
                                     "--fc-runs 10 --ms-samples 2",
                              &err),
            0)
      << err;
  std::ifstream f(out + "/evaluate.json");
  const nlohmann::json j = nlohmann::json::parse(f);
  const nlohmann::json& m = j.at("metrics");
  for (const char* name : {"sparseness", "complexity", "faithfulness-correlation",
                           "relevance-mass", "pointing-game", "max-sensitivity", "deletion",
                           "insertion", "irof", "road-morf", "road-lerf"}) {
    ASSERT_TRUE(m.contains(name)) << name;
    EXPECT_EQ(m[name]["images"].size(), 3u);
    EXPECT_TRUE(m[name]["value"].is_number()) << name;
  }
  EXPECT_EQ(m["sparseness"]["better"], "higher");
  EXPECT_EQ(m["complexity"]["better"], "lower");
  const double mass = m["relevance-mass"]["value"];
  EXPECT_GT(mass, 0.5);  // on Fashion-MNIST, relevance lies on the garment
  EXPECT_LE(mass, 1.0);
  auto refused = [&](const std::string& extra, const std::string& needle) {
    std::string e;
    EXPECT_EQ(test::run_command(base + extra, &e), 2) << extra << e;
    EXPECT_EQ(std::count(e.begin(), e.end(), '\n'), 1) << e;
    EXPECT_NE(e.find(needle), std::string::npos) << e;
  };
  refused(" --composite tutorial --metrics bogus", "bogus");
  refused(" --composite tutorial --metrics sparseness --fc-runs 1", "--fc-runs");
  refused(" --composite tutorial --metrics road-morf --road-fractions 0.5,0.2",
          "--road-fractions");
  const std::string rel = ::testing::TempDir() + "/metrics_rel.npy";
  write_npy(rel, at::rand({3, 1, 28, 28}));
  refused(" --relevance " + rel + " --metrics max-sensitivity", "--composite");
  // Three-channel inputs have no foreground: a localisation metric needs --mask.
  const std::string x3 = ::testing::TempDir() + "/metrics_x3.npy";
  const std::string r3 = ::testing::TempDir() + "/metrics_r3.npy";
  write_npy(x3, at::rand({1, 3, 32, 32}));
  write_npy(r3, at::rand({1, 3, 32, 32}));
  std::string e;
  EXPECT_EQ(test::run_command(test::binary() + " evaluate --model resnet18 --input " + x3 +
                                  " --relevance " + r3 + " --metrics relevance-mass --out " + out,
                              &e),
            2);
  EXPECT_NE(e.find("needs a ground-truth mask"), std::string::npos) << e;
}

// ImageNet boxes: parsed from LOC_val_solution.csv, mapped through the resize (500 x 375 with
// 256-crop224: shorter side 375 -> 256, width 341, crop offsets 58 and 16), rounded outwards
// and clipped; the geometry is the one load_image uses (the same pixels as before).
TEST(Metrics, ImageNetBoxesMapThroughTheResize) {
  const ResizeGeometry g = resize_geometry(500, 375, "256-crop224", 224);
  EXPECT_EQ(g.width, 224);
  EXPECT_EQ(g.ox, 58);
  EXPECT_EQ(g.oy, 16);
  EXPECT_DOUBLE_EQ(g.sx, 341.0 / 500.0);
  EXPECT_DOUBLE_EQ(g.sy, 256.0 / 375.0);
  if (imagenet_classes().empty()) GTEST_SKIP() << "darknet's ImageNet lists are missing";
  const std::string wnid = imagenet_classes()[29].wnid, other = imagenet_classes()[1].wnid;
  const auto boxes = parse_loc_boxes(
      "ImageId,PredictionString\nimg1," + wnid + " 100 50 200 150 " + other + " 0 0 499 374\n",
      "loc.csv");
  ASSERT_EQ(boxes.at("img1").size(), 2u);
  const at::Tensor m = box_mask(boxes.at("img1"), 29, g);
  // x: 100 * 0.682 - 58 = 10.2 -> 10, 200 * 0.682 - 58 = 78.4 -> 79; y: 50 * 0.6827 - 16 =
  // 18.1 -> 18, 150 * 0.6827 - 16 = 86.4 -> 87.
  EXPECT_EQ(m.sum().item<int64_t>(), (79 - 10) * (87 - 18));
  EXPECT_TRUE(m[18][10].item<bool>());
  EXPECT_FALSE(m[17][10].item<bool>());
  EXPECT_FALSE(m[18][79].item<bool>());
  EXPECT_EQ(box_mask(boxes.at("img1"), 1, g).sum().item<int64_t>(), 224 * 224);  // clipped
  EXPECT_EQ(box_mask(boxes.at("img1"), 5, g).sum().item<int64_t>(), 0);
  EXPECT_THROW(parse_loc_boxes("img2," + wnid + " 1 2 3\n", "loc.csv"), InputError);
  EXPECT_THROW(parse_loc_boxes("img2," + wnid + " 5 2 3 4\n", "loc.csv"), InputError);
  EXPECT_THROW(parse_loc_boxes("img2," + wnid + " 1 2 3 nan\n", "loc.csv"), InputError);
}

// Agreement: fractional ranks, Kendall's tau-b (a hand-counted case with ties), consensus.
TEST(Agreement, RanksTauBAndConsensus) {
  EXPECT_EQ(fractional_ranks({0.5, 2.0, 2.0, -1.0}), (std::vector<double>{3, 1.5, 1.5, 4}));
  const std::vector<double> a = {1, 2, 3, 4, 5};
  EXPECT_NEAR(*kendall_tau_b(a, a), 1.0, 1e-15);
  EXPECT_NEAR(*kendall_tau_b(a, {5, 4, 3, 2, 1}), -1.0, 1e-15);
  // a = 1 2 2 3, b = 1 3 2 2: 3 concordant, 1 discordant, one tie on each side:
  // (3 - 1) / sqrt((6 - 1) (6 - 1)) = 0.4.
  EXPECT_NEAR(*kendall_tau_b({1, 2, 2, 3}, {1, 3, 2, 2}), 0.4, 1e-15);
  EXPECT_FALSE(kendall_tau_b({1, 1, 1}, {1, 2, 3}).has_value());  // a constant side
  EXPECT_FALSE(kendall_tau_b({1}, {2}).has_value());
  // Config 1 is best under one metric, config 2 under the other, config 0 second under both:
  // mean ranks 2, 2, 2 -> the earliest wins; a third metric breaks the tie.
  std::vector<std::vector<double>> s = {{2, 3, 1}, {2, 1, 3}};
  EXPECT_EQ(consensus(s).config, 0u);
  EXPECT_NEAR(consensus(s).mean_rank, 2.0, 1e-15);
  s.push_back({0, 0, 5});
  EXPECT_EQ(consensus(s).config, 2u);
}

}  // namespace
}  // namespace lrpbench
