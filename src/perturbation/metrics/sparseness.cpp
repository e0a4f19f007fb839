// sparseness: the Gini index of |r| (Chalasani et al. 2020), higher is sparser.
#include <ATen/ATen.h>

#include "perturbation/metric.h"

namespace lrpbench {

Metric sparseness_metric() {
  Metric m;
  m.score = [](const MetricImage&, const at::Tensor& relevance, const MetricOptions&) {
    const at::Tensor r = metric_detail::pixel_relevance(relevance).abs().flatten(1);
    MetricValues out;
    for (int64_t k = 0; k < r.size(0); ++k) {
      const at::Tensor a = std::get<0>(r[k].sort()).contiguous();  // ascending
      const double* v = a.data_ptr<double>();
      const int64_t n = a.numel();
      double sum = 0, weighted = 0;
      for (int64_t i = 0; i < n; ++i) {  // i + 1 is the 1-based rank
        sum += v[i];
        weighted += static_cast<double>(2 * (i + 1) - n - 1) * v[i];
      }
      out.push_back(sum > 0 ? std::optional<double>(weighted / (static_cast<double>(n) * sum))
                            : std::nullopt);
    }
    return out;
  };
  return m;
}

}  // namespace lrpbench
