// deletion and insertion (Petsiuk et al. 2018, RISE), on the pixel-flipping engine: the
// experiment's patches, patch scores and schedule in MoRF order, batched forwards and its
// cache (step 0 and the last image are forwarded once for all K configurations).
// deletion: flipped patches become black (pixel value 0); insertion: from a blurred copy
// (OpenCV GaussianBlur of the rounded 8-bit image, 11 x 11, sigma 5, default border), the
// input's own values are put back patch by patch. Softmax probability of the target; the
// trapezoid AUC over the fraction of patches flipped (0 .. 1).
#include <ATen/ATen.h>

#include <opencv2/imgproc.hpp>

#include "perturbation/curves.h"
#include "perturbation/metric.h"
#include "perturbation/modes.h"

namespace lrpbench {
namespace {

double auc_over_fraction(const PFCurve& c) {
  double a = 0;
  for (size_t k = 0; k + 1 < c.scores.size(); ++k)
    a += (c.fraction[k + 1] - c.fraction[k]) * (c.scores[k] + c.scores[k + 1]) / 2;
  return a;
}

// The normalised image of the blurred 8-bit copy: C x H x W.
at::Tensor blurred(const ImageContext& c) {
  const int64_t ch = c.x.size(0), h = c.grid.height, w = c.grid.width;
  const cv::Mat src(static_cast<int>(h), static_cast<int>(w), ch == 1 ? CV_8UC1 : CV_8UC3,
                    const_cast<uint8_t*>(c.u8.data()));
  cv::Mat dst;
  cv::GaussianBlur(src, dst, cv::Size(11, 11), 5.0);
  at::Tensor out = at::empty_like(c.x);
  const uint8_t* d = dst.ptr<uint8_t>();
  float* o = out.data_ptr<float>();
  for (int64_t k = 0; k < ch; ++k)
    for (int64_t i = 0; i < h * w; ++i)
      o[k * h * w + i] = static_cast<float>((d[i * ch + k] / 255.0 - c.mean[static_cast<size_t>(k)]) /
                                            c.std[static_cast<size_t>(k)]);
  return out;
}

MetricValues curve_aucs(const MetricImage& img, const at::Tensor& relevance,
                        const MetricOptions& opt, bool insertion) {
  PFSettings s = opt.pf;
  s.mode = "constant";
  s.fill = "black";
  s.score = "prob";
  s.full_mask = "gray";
  s.final_step = "none";
  s.batch = opt.batch;
  if (s.patch <= 0) s.patch = default_patch(img.x.size(2), img.x.size(3));
  ImageContext ctx = make_context(img.x[0], img.net->mean, img.net->std, s.patch, img.index);
  if (insertion) {
    ctx.replacement = ctx.x;
    ctx.x = blurred(ctx);
  }
  PFImageJobs jobs{&ctx, img.target, {}};
  for (int64_t k = 0; k < relevance.size(0); ++k)
    jobs.jobs.push_back({Order::Morf, relevance[k].to(at::kCPU).to(at::kFloat).contiguous()});
  const PFOutcome o = score_curves(*img.net, {jobs}, s);
  MetricValues out;
  for (const PFCurve& c : o.curves[0]) out.push_back(auc_over_fraction(c));
  return out;
}

}  // namespace

Metric deletion_metric() {
  Metric m;
  m.score = [](const MetricImage& img, const at::Tensor& rel, const MetricOptions& opt) {
    return curve_aucs(img, rel, opt, false);
  };
  return m;
}

Metric insertion_metric() {
  Metric m;
  m.score = [](const MetricImage& img, const at::Tensor& rel, const MetricOptions& opt) {
    return curve_aucs(img, rel, opt, true);
  };
  return m;
}

}  // namespace lrpbench
