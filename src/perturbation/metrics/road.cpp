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

namespace {

// The imputation on raw buffers: v and out are C x H x W pixel values (out, not aliasing v,
// receives v with the removed pixels replaced). Row i of the system (a removed pixel) times
// its stencil total: total_i u_i - sum_j c_ij u_j = sum_k c_ik v_k, with c = 1/6 (direct) or
// 1/12 (diagonal) symmetric, so the matrix is symmetric; it is weakly diagonally dominant and
// every block of removed pixels touches a kept one, so it is positive definite: one sparse
// Cholesky (LDL^T) solves every channel exactly. Unknowns in row-major order keep the factor
// inside a band of width W + 1, which is cheaper here than a fill-reducing ordering (whose
// own cost exceeds what it saves on images of this size). The lower triangle is written
// column by column in compressed form directly (neighbours further on in row-major order come
// in increasing order).
void impute_pixels(const double* v, int64_t ch, int64_t h, int64_t w, const uint8_t* removed,
                   double* out) {
  const int64_t n = h * w;
  std::copy(v, v + ch * n, out);
  std::vector<int> unknown(static_cast<size_t>(n), -1);
  int m = 0;
  for (int64_t i = 0; i < n; ++i)
    if (removed[i]) unknown[static_cast<size_t>(i)] = m++;
  if (m == 0) return;
  require(m < n, "road: every pixel removed");
  std::vector<int> outer(static_cast<size_t>(m) + 1, 0), inner;
  std::vector<double> values;
  inner.reserve(static_cast<size_t>(m) * 5);
  values.reserve(static_cast<size_t>(m) * 5);
  Eigen::MatrixXd b = Eigen::MatrixXd::Zero(m, ch);
  static const int kDy[8] = {-1, -1, -1, 0, 0, 1, 1, 1}, kDx[8] = {-1, 0, 1, -1, 1, -1, 0, 1};
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const int row = unknown[static_cast<size_t>(y * w + x)];
      if (row < 0) continue;
      double total = 0;
      const size_t diag = values.size();
      inner.push_back(row);
      values.push_back(0);
      for (int k = 0; k < 8; ++k) {  // in row-major order of the neighbours
        const int64_t yy = y + kDy[k], xx = x + kDx[k];
        if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
        const double c = (kDy[k] && kDx[k]) ? 1.0 / 12 : 1.0 / 6;
        total += c;
        const int64_t j = yy * w + xx;
        const int col = unknown[static_cast<size_t>(j)];
        if (col < 0) {
          for (int64_t q = 0; q < ch; ++q) b(row, q) += c * v[q * n + j];
        } else if (col > row) {  // the lower triangle of column `row`
          inner.push_back(col);
          values.push_back(-c);
        }
      }
      values[diag] = total;
      outer[static_cast<size_t>(row) + 1] = static_cast<int>(values.size());
    }
  const Eigen::Map<const Eigen::SparseMatrix<double>> a(m, m, static_cast<int>(values.size()),
                                                        outer.data(), inner.data(), values.data());
  Eigen::MatrixXd u;
  Eigen::SimplicialLDLT<Eigen::SparseMatrix<double>, Eigen::Lower, Eigen::NaturalOrdering<int>>
      ldlt(a);
  if (ldlt.info() == Eigen::Success) u = ldlt.solve(b);
  if (ldlt.info() != Eigen::Success) {  // not expected; the exact LU is the fallback
    const Eigen::SparseMatrix<double> full =
        Eigen::SparseMatrix<double>(a.selfadjointView<Eigen::Lower>());
    Eigen::SparseLU<Eigen::SparseMatrix<double>> lu;
    lu.compute(full);
    require(lu.info() == Eigen::Success, "road: the imputation system could not be factorised");
    u = lu.solve(b);
  }
  for (int64_t i = 0; i < n; ++i) {
    const int row = unknown[static_cast<size_t>(i)];
    if (row >= 0)
      for (int64_t q = 0; q < ch; ++q) out[q * n + i] = u(row, q);
  }
}

}  // namespace

at::Tensor road_impute(const at::Tensor& pixels_in, const std::vector<uint8_t>& removed) {
  const at::Tensor pixels = pixels_in.to(at::kCPU).to(at::kDouble).contiguous();
  require(static_cast<int64_t>(removed.size()) == pixels.size(1) * pixels.size(2),
          "road: one removed flag per pixel");
  at::Tensor out = at::empty_like(pixels);
  impute_pixels(pixels.data_ptr<double>(), pixels.size(0), pixels.size(1), pixels.size(2),
                removed.data(), out.data_ptr<double>());
  return out;
}

namespace {

// The distinct removed-pixel sets of K configurations' relevance r (K x HW, row-major
// pixels) at each fraction: `sets` holds each set once (flags per pixel plus the fraction's
// index, and the fraction), image_of[k][f] which set configuration k removes at fraction f.
struct RemovalSets {
  std::vector<std::pair<std::string, size_t>> sets;
  std::vector<std::vector<size_t>> image_of;
};

RemovalSets removal_sets(const at::Tensor& r, int64_t hw, const std::vector<double>& fractions,
                         bool morf) {
  const int64_t configs = r.size(0);
  // Each configuration's flags per fraction, sorted in parallel; then numbered in
  // configuration order.
  std::vector<std::vector<std::string>> flags(static_cast<size_t>(configs));
  const double* rv = r.data_ptr<double>();
  at::parallel_for(0, configs, 1, [&](int64_t kb, int64_t ke) {
    std::vector<int64_t> order(static_cast<size_t>(hw));
    for (int64_t k = kb; k < ke; ++k) {
      const double* v = rv + k * hw;
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
        return morf ? v[a] > v[b] : v[a] < v[b];
      });
      for (size_t f = 0; f < fractions.size(); ++f) {
        const int64_t count = std::min<int64_t>(
            hw - 1,
            static_cast<int64_t>(std::floor(fractions[f] * static_cast<double>(hw) + 0.5)));
        std::string removed(static_cast<size_t>(hw), '\0');
        for (int64_t i = 0; i < count; ++i) removed[static_cast<size_t>(order[static_cast<size_t>(i)])] = 1;
        removed += static_cast<char>(f);  // the noise field differs per fraction
        flags[static_cast<size_t>(k)].push_back(std::move(removed));
      }
    }
  });
  RemovalSets out;
  out.image_of.resize(static_cast<size_t>(configs));
  std::map<std::string, size_t> index;  // removed flags -> unique set
  for (size_t k = 0; k < flags.size(); ++k)
    for (size_t f = 0; f < fractions.size(); ++f) {
      std::string& removed = flags[k][f];
      const auto [it, fresh] = index.emplace(removed, out.sets.size());
      if (fresh) out.sets.push_back({std::move(removed), f});
      out.image_of[k].push_back(it->second);
    }
  return out;
}

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
  const RemovalSets removal = removal_sets(r, h * w, opt.road_fractions, morf);
  const auto& sets = removal.sets;
  const auto& image_of = removal.image_of;
  // Imputed images, in parallel (each its own sparse system), normalised as the network
  // reads them: (imputed + noise at the removed pixels - mean) / std.
  const int64_t n = h * w;
  const at::Tensor flat_pixels = pixels.contiguous();
  const double* pv = flat_pixels.data_ptr<double>();
  at::Tensor batch = at::empty({static_cast<int64_t>(sets.size()), ch, h, w}, at::kFloat);
  float* bv = batch.data_ptr<float>();
  at::parallel_for(0, static_cast<int64_t>(sets.size()), 1, [&](int64_t b, int64_t e) {
    std::vector<double> imputed(static_cast<size_t>(ch * n));
    for (int64_t i = b; i < e; ++i) {
      const auto& [flags, f] = sets[static_cast<size_t>(i)];
      const auto* removed = reinterpret_cast<const uint8_t*>(flags.data());
      impute_pixels(pv, ch, h, w, removed, imputed.data());
      const double* nv = noise[f].data_ptr<double>();
      float* o = bv + i * ch * n;
      for (int64_t q = 0; q < ch; ++q)
        for (int64_t p = 0; p < n; ++p) {
          const double pixel = imputed[static_cast<size_t>(q * n + p)] +
                               (removed[p] ? nv[q * n + p] * opt.road_noise : 0.0);
          o[q * n + p] = static_cast<float>((pixel - net.mean[static_cast<size_t>(q)]) /
                                            net.std[static_cast<size_t>(q)]);
        }
    }
  });
  const std::vector<double> scores = metric_detail::scores(
      net, batch.to(img.x.device()), img.target, "prob", opt.batch);
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
