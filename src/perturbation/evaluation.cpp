#include "perturbation/evaluation.h"

#include <ATen/ATen.h>

#include "util/error.h"

namespace lrpbench {

Evaluation evaluate_explanations(const Network& net, const at::Tensor& x,
                                 const at::Tensor& relevance, const std::vector<int64_t>& targets,
                                 const std::vector<int64_t>& seeds,
                                 const std::vector<Order>& orders, const PFSettings& s) {
  require(relevance.sizes() == x.sizes(),
          "--relevance: shape " + std::string(c10::str(relevance.sizes())) +
              " differs from the input's " + std::string(c10::str(x.sizes())));
  const int64_t n = x.size(0);
  std::vector<ImageContext> ctx;
  for (int64_t i = 0; i < n; ++i)
    ctx.push_back(make_context(x[i], net.mean, net.std, s.patch, seeds[static_cast<size_t>(i)]));
  std::vector<PFImageJobs> work;
  const at::Tensor rel = relevance.detach().to(at::kCPU).to(at::kFloat);
  for (int64_t i = 0; i < n; ++i) {
    PFImageJobs w{&ctx[static_cast<size_t>(i)], targets[static_cast<size_t>(i)], {}};
    for (Order o : orders) w.jobs.push_back({o, rel[i]});
    work.push_back(std::move(w));
  }
  const PFOutcome pf = score_curves(net, work, s);
  Evaluation e;
  e.orders = orders;
  e.curves = pf.curves;
  e.stats = pf.stats;
  e.grid = ctx.at(0).grid;
  e.scores.resize(static_cast<size_t>(n));
  for (size_t o = 0; o < orders.size(); ++o) {
    std::vector<CurveScores> per;
    std::vector<double> mean(e.curves[0][o].scores.size(), 0.0);
    for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
      const PFCurve& c = e.curves[i][o];
      e.scores[i].push_back(score_curve(c.scores, c.fraction));
      per.push_back(e.scores[i].back());
      for (size_t k = 0; k < mean.size(); ++k) mean[k] += c.scores[k] / static_cast<double>(n);
    }
    e.batch.push_back(score_batch(per));
    e.mean_curves.push_back(mean);
  }
  return e;
}

}  // namespace lrpbench
