// complexity: the Shannon entropy (natural log) of |r| as a distribution over pixels
// (Bhatt et al. 2020), lower is simpler.
#include <ATen/ATen.h>

#include <cmath>

#include "perturbation/metric.h"

namespace lrpbench {

Metric complexity_metric() {
  Metric m;
  m.score = [](const MetricImage&, const at::Tensor& relevance, const MetricOptions&) {
    const at::Tensor r = metric_detail::pixel_relevance(relevance).abs().flatten(1).contiguous();
    MetricValues out;
    for (int64_t k = 0; k < r.size(0); ++k) {
      const double* v = r[k].data_ptr<double>();
      const int64_t n = r.size(1);
      double sum = 0;
      for (int64_t i = 0; i < n; ++i) sum += v[i];
      if (!(sum > 0)) {
        out.push_back(std::nullopt);
        continue;
      }
      double h = 0;
      for (int64_t i = 0; i < n; ++i)
        if (v[i] > 0) h -= (v[i] / sum) * std::log(v[i] / sum);
      out.push_back(h);
    }
    return out;
  };
  return m;
}

}  // namespace lrpbench
