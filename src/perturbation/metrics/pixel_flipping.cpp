// pf-morf, pf-lrf, pf-random: the thesis's pixel-flipping curves (docs/method.md sections 3
// and 4) under the run's PF settings, scored by the run's AUC kind. The search computes these
// through its curve store (aucs.csv); as metrics they are available to evaluate --metrics and
// to the agreement analysis under the same names.
#include <ATen/ATen.h>

#include "perturbation/auc.h"
#include "perturbation/curves.h"
#include "perturbation/metric.h"
#include "perturbation/modes.h"

namespace lrpbench {
namespace {

Metric pf_metric(Order order) {
  Metric m;
  m.score = [order](const MetricImage& img, const at::Tensor& relevance, const MetricOptions& opt) {
    PFSettings s = opt.pf;
    s.batch = opt.batch;
    if (s.patch <= 0) s.patch = default_patch(img.x.size(2), img.x.size(3));
    const ImageContext ctx = make_context(img.x[0], img.net->mean, img.net->std, s.patch, img.index);
    PFImageJobs jobs{&ctx, img.target, {}};
    for (int64_t k = 0; k < relevance.size(0); ++k)
      jobs.jobs.push_back({order, relevance[k].to(at::kCPU).to(at::kFloat).contiguous()});
    const PFOutcome o = score_curves(*img.net, {jobs}, s);
    MetricValues out;
    for (const PFCurve& c : o.curves[0])
      out.push_back(curve_value(score_curve(c.scores, c.fraction), opt.auc_kind));
    return out;
  };
  return m;
}

}  // namespace

Metric pf_morf_metric() { return pf_metric(Order::Morf); }
Metric pf_lrf_metric() { return pf_metric(Order::Lrf); }
Metric pf_random_metric() { return pf_metric(Order::Random); }

}  // namespace lrpbench
