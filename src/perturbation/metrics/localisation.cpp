// Localisation against a ground-truth mask: relevance mass (Arras et al. 2022) and the
// pointing game (Zhang et al. 2018). Without a mask (or with an empty one) both are undefined.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "perturbation/metric.h"

namespace lrpbench {
namespace {

bool has_mask(const MetricImage& img) {
  return img.mask.defined() && img.mask.any().item<bool>();
}

}  // namespace

Metric relevance_mass_metric() {
  Metric m;
  m.score = [](const MetricImage& img, const at::Tensor& relevance, const MetricOptions&) {
    const at::Tensor r = metric_detail::pixel_relevance(relevance).clamp_min(0);
    MetricValues out;
    const bool mask = has_mask(img);
    const at::Tensor inside = mask ? img.mask.to(at::kCPU).to(at::kDouble) : at::Tensor();
    for (int64_t k = 0; k < r.size(0); ++k) {
      const double total = r[k].sum().item<double>();
      if (!mask || !(total > 0)) {
        out.push_back(std::nullopt);
        continue;
      }
      out.push_back((r[k] * inside).sum().item<double>() / total);
    }
    return out;
  };
  return m;
}

Metric pointing_game_metric() {
  Metric m;
  m.score = [](const MetricImage& img, const at::Tensor& relevance, const MetricOptions& opt) {
    const at::Tensor r = metric_detail::pixel_relevance(relevance);
    const int64_t h = r.size(1), w = r.size(2);
    const int64_t tol =
        opt.pg_tolerance ? *opt.pg_tolerance
                         : std::max<int64_t>(1, (15 * std::min(h, w)) / 224);
    MetricValues out;
    if (!has_mask(img)) return MetricValues(static_cast<size_t>(r.size(0)), std::nullopt);
    const at::Tensor mask = img.mask.to(at::kCPU).to(at::kBool).contiguous();
    const bool* in = mask.data_ptr<bool>();
    for (int64_t k = 0; k < r.size(0); ++k) {
      const at::Tensor flat = r[k].flatten().contiguous();
      const double* v = flat.data_ptr<double>();
      int64_t best = 0;  // the first maximum in row-major order
      for (int64_t i = 1; i < flat.numel(); ++i)
        if (v[i] > v[best]) best = i;
      const int64_t by = best / w, bx = best % w;
      bool hit = false;
      for (int64_t y = std::max<int64_t>(0, by - tol); !hit && y <= std::min(h - 1, by + tol); ++y)
        for (int64_t x = std::max<int64_t>(0, bx - tol); !hit && x <= std::min(w - 1, bx + tol); ++x)
          hit = in[y * w + x] && (y - by) * (y - by) + (x - bx) * (x - bx) <= tol * tol;
      out.push_back(hit ? 1.0 : 0.0);
    }
    return out;
  };
  return m;
}

}  // namespace lrpbench
