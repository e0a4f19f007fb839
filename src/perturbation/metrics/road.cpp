// road-morf / road-lerf (Rong et al. 2022, ROAD): for each fraction p, remove the
// floor(p H W + 0.5) pixels of highest (MoRF) / lowest (LeRF) relevance (ties to the lower
// row-major index), impute them by linear imputation on pixel values (each removed pixel the
// weighted mean of its 8 neighbours: 1/6 direct, 1/12 diagonal, renormalised inside the image;
// kept pixels fixed; one sparse system per image, every channel a right-hand side, symmetric
// once each row is scaled by its stencil total, solved by Eigen's sparse Cholesky), add road_noise times the
// (image, fraction) noise field to the imputed pixels; probability of the target; trapezoid
// AUC over the given fractions. The noise fields do not depend on the configuration.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <map>
#include <string>

#include <Eigen/Sparse>
#include <Eigen/SparseCholesky>
#include <Eigen/SparseLU>
#include <algorithm>
#include <cmath>
#include <numeric>

#include "perturbation/metric.h"
#include "util/error.h"

namespace lrpbench {

at::Tensor road_impute(const at::Tensor& pixels_in, const std::vector<uint8_t>& removed) {
  const at::Tensor pixels = pixels_in.to(at::kCPU).to(at::kDouble).contiguous();
  const int64_t ch = pixels.size(0), h = pixels.size(1), w = pixels.size(2);
  std::vector<int64_t> unknown(static_cast<size_t>(h * w), -1);
  int64_t m = 0;
  for (int64_t i = 0; i < h * w; ++i)
    if (removed[static_cast<size_t>(i)]) unknown[static_cast<size_t>(i)] = m++;
  at::Tensor out = pixels.clone();
  if (m == 0) return out;
  require(m < h * w, "road: every pixel removed");
  const double* v = pixels.data_ptr<double>();
  // Row i (a removed pixel) times its stencil total: total_i u_i - sum_j c_ij u_j = sum_k c_ik
  // v_k, with c = 1/6 (direct) or 1/12 (diagonal) symmetric, so the matrix is symmetric; it is
  // weakly diagonally dominant and every block of removed pixels touches a kept one, so it is
  // positive definite: one sparse Cholesky (LDL^T, AMD ordering) solves every channel exactly.
  std::vector<Eigen::Triplet<double>> a;
  Eigen::MatrixXd b = Eigen::MatrixXd::Zero(m, ch);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const int64_t row = unknown[static_cast<size_t>(y * w + x)];
      if (row < 0) continue;
      double total = 0;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          if (!(dy || dx) || y + dy < 0 || y + dy >= h || x + dx < 0 || x + dx >= w) continue;
          const double c = (dy && dx) ? 1.0 / 12 : 1.0 / 6;
          total += c;
          const int64_t j = (y + dy) * w + (x + dx);
          const int64_t col = unknown[static_cast<size_t>(j)];
          if (col >= 0)
            a.emplace_back(row, col, -c);
          else
            for (int64_t k = 0; k < ch; ++k) b(row, k) += c * v[k * h * w + j];
        }
      a.emplace_back(row, row, total);
    }
  Eigen::SparseMatrix<double> A(m, m);
  A.setFromTriplets(a.begin(), a.end());
  Eigen::MatrixXd u;
  Eigen::SimplicialLDLT<Eigen::SparseMatrix<double>> ldlt(A);
  if (ldlt.info() == Eigen::Success) u = ldlt.solve(b);
  if (ldlt.info() != Eigen::Success) {  // not expected; the exact LU is the fallback
    Eigen::SparseLU<Eigen::SparseMatrix<double>> lu;
    lu.compute(A);
    require(lu.info() == Eigen::Success, "road: the imputation system could not be factorised");
    u = lu.solve(b);
  }
  double* o = out.data_ptr<double>();
  for (int64_t i = 0; i < h * w; ++i) {
    const int64_t row = unknown[static_cast<size_t>(i)];
    if (row >= 0)
      for (int64_t c = 0; c < ch; ++c) o[c * h * w + i] = u(row, c);
  }
  return out;
}

namespace {

MetricValues road(const MetricImage& img, const at::Tensor& relevance, const MetricOptions& opt,
                  bool morf) {
  const Network& net = *img.net;
  const int64_t ch = img.x.size(1), h = img.x.size(2), w = img.x.size(3);
  const at::Tensor x = img.x[0].to(at::kCPU).to(at::kDouble);
  const at::Tensor mean = at::tensor(net.mean, at::kDouble).view({-1, 1, 1});
  const at::Tensor std = at::tensor(net.std, at::kDouble).view({-1, 1, 1});
  const at::Tensor pixels = x * std + mean;
  // One N(0, 1) field per fraction, over C x H x W, the same for every configuration.
  std::vector<at::Tensor> noise;
  for (size_t f = 0; f < opt.road_fractions.size(); ++f) {
    at::Generator gen = at::detail::createCPUGenerator(
        metric_detail::stream_key(opt.seed, "road", img.index, static_cast<int64_t>(f)));
    noise.push_back(at::randn({ch, h, w}, gen, at::TensorOptions().dtype(at::kDouble)));
  }
  const at::Tensor r = metric_detail::pixel_relevance(relevance).flatten(1).contiguous();
  // The removed pixel sets of every (configuration, fraction); configurations that remove the
  // same pixels at a fraction share one imputed image and its forward pass.
  const size_t fractions = opt.road_fractions.size();
  std::map<std::string, size_t> index;    // removed flags -> unique image
  std::vector<std::pair<std::string, size_t>> sets;  // unique: flags, fraction
  std::vector<std::vector<size_t>> image_of(static_cast<size_t>(r.size(0)));
  for (int64_t k = 0; k < r.size(0); ++k) {
    const double* v = r[k].data_ptr<double>();
    std::vector<int64_t> order(static_cast<size_t>(h * w));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return morf ? v[a] > v[b] : v[a] < v[b];
    });
    for (size_t f = 0; f < fractions; ++f) {
      const int64_t count = std::min<int64_t>(
          h * w - 1,
          static_cast<int64_t>(std::floor(opt.road_fractions[f] * static_cast<double>(h * w) + 0.5)));
      std::string removed(static_cast<size_t>(h * w), '\0');
      for (int64_t i = 0; i < count; ++i) removed[static_cast<size_t>(order[static_cast<size_t>(i)])] = 1;
      removed += static_cast<char>(f);  // the noise field differs per fraction
      const auto [it, fresh] = index.emplace(removed, sets.size());
      if (fresh) sets.push_back({removed, f});
      image_of[static_cast<size_t>(k)].push_back(it->second);
    }
  }
  // Imputed images, in parallel (each its own sparse system).
  std::vector<at::Tensor> images(sets.size());
  at::parallel_for(0, static_cast<int64_t>(sets.size()), 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const auto& [flags, f] = sets[static_cast<size_t>(i)];
      const std::vector<uint8_t> removed(flags.begin(), flags.end() - 1);
      const at::Tensor mask =
          at::tensor(std::vector<int64_t>(removed.begin(), removed.end()), at::kLong)
              .view({1, h, w})
              .to(at::kDouble);
      const at::Tensor imputed = road_impute(pixels, removed) + noise[f] * opt.road_noise * mask;
      images[static_cast<size_t>(i)] = ((imputed - mean) / std).to(at::kFloat);
    }
  });
  const std::vector<double> scores = metric_detail::scores(
      net, at::stack(images).to(img.x.device()), img.target, "prob", opt.batch);
  MetricValues out;
  for (const std::vector<size_t>& ids : image_of) {
    double auc = 0;
    for (size_t j = 0; j + 1 < ids.size(); ++j)
      auc += (opt.road_fractions[j + 1] - opt.road_fractions[j]) *
             (scores[ids[j]] + scores[ids[j + 1]]) / 2;
    out.push_back(auc);
  }
  return out;
}

}  // namespace

Metric road_morf_metric() {
  Metric m;
  m.score = [](const MetricImage& img, const at::Tensor& rel, const MetricOptions& opt) {
    return road(img, rel, opt, true);
  };
  return m;
}

Metric road_lerf_metric() {
  Metric m;
  m.score = [](const MetricImage& img, const at::Tensor& rel, const MetricOptions& opt) {
    return road(img, rel, opt, false);
  };
  return m;
}

}  // namespace lrpbench
