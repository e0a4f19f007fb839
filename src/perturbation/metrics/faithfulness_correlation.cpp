// faithfulness-correlation (Bhatt et al. 2020): Pearson correlation, over fc_runs random pixel
// subsets S_k, between the relevance on S_k and the drop of f when S_k is set to pixel value
// 0 (every channel). The subsets and the perturbed images' scores do not depend on the
// explanation: computed once per image, shared by every configuration.
#include <ATen/ATen.h>

#include <cmath>
#include <numeric>

#include "perturbation/metric.h"
#include "perturbation/order.h"

namespace lrpbench {
namespace {

// fc_subset distinct pixels of H x W, drawn by a partial Fisher-Yates shuffle.
std::vector<int64_t> subset(int64_t pixels, int64_t size, uint64_t key) {
  std::vector<int64_t> idx(static_cast<size_t>(pixels));
  std::iota(idx.begin(), idx.end(), 0);
  for (int64_t j = 0; j < size; ++j) {
    const int64_t pick = j + static_cast<int64_t>(uniform01(key + static_cast<uint64_t>(j)) *
                                                  static_cast<double>(pixels - j));
    std::swap(idx[static_cast<size_t>(j)], idx[static_cast<size_t>(std::min(pick, pixels - 1))]);
  }
  idx.resize(static_cast<size_t>(size));
  return idx;
}

std::optional<double> pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  double ma = 0, mb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  if (!(saa > 0) || !(sbb > 0)) return std::nullopt;  // a constant side: undefined
  return sab / std::sqrt(saa * sbb);
}

}  // namespace

Metric faithfulness_correlation_metric() {
  Metric m;
  m.score = [](const MetricImage& img, const at::Tensor& relevance, const MetricOptions& opt) {
    const at::Tensor r = metric_detail::pixel_relevance(relevance).flatten(1).contiguous();
    const int64_t h = img.x.size(2), w = img.x.size(3), pixels = h * w;
    const int64_t size = std::min(
        pixels, opt.fc_subset ? *opt.fc_subset
                              : static_cast<int64_t>(std::floor(224.0 * static_cast<double>(pixels) /
                                                                    (224.0 * 224.0) +
                                                                0.5)));
    // The perturbed images, once for every configuration.
    std::vector<std::vector<int64_t>> sets;
    at::Tensor removed = img.x.repeat({opt.fc_runs, 1, 1, 1});
    const at::Tensor zero = metric_detail::normalised_pixel(*img.net, 0.0, img.x.options())
                                .view({-1, 1});
    for (int64_t k = 0; k < opt.fc_runs; ++k) {
      sets.push_back(subset(pixels, std::max<int64_t>(1, size),
                            metric_detail::stream_key(opt.seed, "fc", img.index, k)));
      const at::Tensor where = at::tensor(sets.back(), at::kLong).to(img.x.device());
      removed[k].view({img.x.size(1), -1}).index_copy_(
          1, where, zero.expand({img.x.size(1), where.numel()}).contiguous());
    }
    const double f0 = metric_detail::scores(*img.net, img.x, img.target, opt.score, 1)[0];
    const std::vector<double> f = metric_detail::scores(*img.net, removed, img.target, opt.score,
                                                        opt.batch);
    std::vector<double> drop;
    for (double v : f) drop.push_back(f0 - v);
    MetricValues out;
    for (int64_t c = 0; c < r.size(0); ++c) {
      const double* v = r[c].data_ptr<double>();
      std::vector<double> mass;
      for (const auto& s : sets) {
        double sum = 0;
        for (int64_t i : s) sum += v[i];
        mass.push_back(sum);
      }
      out.push_back(pearson(mass, drop));
    }
    return out;
  };
  return m;
}

}  // namespace lrpbench
