// max-sensitivity (Yeh et al. 2019): the largest relative change of the explanation under
// ms_samples uniform perturbations of radius ms_radius x (max - min) of the normalised input.
// The noisy inputs do not depend on the configuration: all of them are explained for every
// configuration in one engine call.
#include <ATen/ATen.h>

#include "perturbation/metric.h"
#include "util/error.h"

namespace lrpbench {

Metric max_sensitivity_metric() {
  Metric m;
  m.score = [](const MetricImage& img, const at::Tensor& relevance, const MetricOptions& opt) {
    require(static_cast<bool>(img.explain),
            "max-sensitivity explains noisy inputs: it needs --composite, not --relevance");
    const double lo = img.x.min().item<double>(), hi = img.x.max().item<double>();
    const double rad = opt.ms_radius * (hi - lo);
    std::vector<at::Tensor> noisy;
    for (int64_t k = 0; k < opt.ms_samples; ++k) {
      at::Generator gen = at::detail::createCPUGenerator(
          metric_detail::stream_key(opt.seed, "ms", img.index, k));
      const at::Tensor d = (at::rand(img.x.sizes(), gen, at::TensorOptions().dtype(at::kFloat)) *
                                2.0 - 1.0) * rad;
      noisy.push_back(img.x + d.to(img.x.device()));
    }
    const at::Tensor rn = img.explain(at::cat(noisy));  // S x K x C x H x W
    const at::Tensor base = metric_detail::pixel_relevance(relevance).flatten(1);  // K x HW
    MetricValues out;
    for (int64_t c = 0; c < base.size(0); ++c) {
      const double norm = base[c].norm().item<double>();
      if (!(norm > 0)) {
        out.push_back(std::nullopt);
        continue;
      }
      const at::Tensor other = metric_detail::pixel_relevance(rn.select(1, c)).flatten(1);
      out.push_back((other - base[c]).norm(2, {1}).max().item<double>() / norm);
    }
    return out;
  };
  return m;
}

}  // namespace lrpbench
