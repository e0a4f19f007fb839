// irof (Rieger and Hansen 2020): SLIC superpixels of the rounded 8-bit image (OpenCV
// ximgproc, algorithm SLIC, ruler 10, 10 iterations, no connectivity enforcement), removed
// one at a time in descending order of their mean relevance (ties to the lower label), each
// set to the normalised input's channel mean; y_k = f_k / f_0 (probability) at x_k = k / S;
// IROF = 1 - the trapezoid AUC. The superpixels, f_0 and the all-removed image are shared by
// the K configurations.
#include <ATen/ATen.h>

#include <algorithm>
#include <map>
#include <opencv2/ximgproc/slic.hpp>

#include "perturbation/metric.h"
#include "perturbation/modes.h"
#include "util/error.h"

namespace lrpbench {

std::vector<std::vector<int64_t>> slic_segments(const at::Tensor& x, const Network& net,
                                                int64_t region) {
  const ImageContext c = make_context(x, net.mean, net.std, 1, 0);
  const int64_t ch = c.x.size(0), h = c.grid.height, w = c.grid.width;
  // A region over the shorter side is one superpixel (the whole image), and OpenCV's SLIC
  // crashes from about twice the shorter side; the options are checked against the image
  // before any work (MetricOptions::check_image), this guards the call.
  require(region >= 2 && region <= std::min(h, w),
          "--irof-region (irof_region): " + std::to_string(region) +
              " pixels, more than the shorter side of the image (" +
              std::to_string(std::min(h, w)) + ")");
  const cv::Mat src(static_cast<int>(h), static_cast<int>(w), ch == 1 ? CV_8UC1 : CV_8UC3,
                    const_cast<uint8_t*>(c.u8.data()));
  cv::Ptr<cv::ximgproc::SuperpixelSLIC> slic = cv::ximgproc::createSuperpixelSLIC(
      src, cv::ximgproc::SLIC, static_cast<int>(region), 10.0f);
  slic->iterate(10);
  cv::Mat labels;
  slic->getLabels(labels);
  std::map<int, std::vector<int64_t>> by_label;  // ascending labels
  for (int64_t y = 0; y < h; ++y)
    for (int64_t xx = 0; xx < w; ++xx)
      by_label[labels.at<int>(static_cast<int>(y), static_cast<int>(xx))].push_back(y * w + xx);
  std::vector<std::vector<int64_t>> out;
  for (auto& [label, pixels] : by_label) out.push_back(std::move(pixels));
  return out;
}

Metric irof_metric() {
  Metric m;
  m.score = [](const MetricImage& img, const at::Tensor& relevance, const MetricOptions& opt) {
    const int64_t h = img.x.size(2), w = img.x.size(3), ch = img.x.size(1);
    const int64_t region = opt.irof_region ? *opt.irof_region
                                           : (std::min(h, w) >= 64 ? 16 : std::min(h, w) / 4);
    const auto segs = slic_segments(img.x[0], *img.net, std::max<int64_t>(2, region));
    const int64_t s = static_cast<int64_t>(segs.size());
    const at::Tensor x = img.x[0].to(at::kCPU).to(at::kFloat).contiguous();
    const at::Tensor mt = x.view({ch, -1}).mean(1).contiguous();
    const std::vector<float> means(mt.data_ptr<float>(), mt.data_ptr<float>() + ch);
    // Image after removing the given segments.
    auto removed = [&](const std::vector<size_t>& order, int64_t k) {
      at::Tensor out = x.clone();
      float* p = out.data_ptr<float>();
      for (int64_t j = 0; j < k; ++j)
        for (int64_t i : segs[order[static_cast<size_t>(j)]])
          for (int64_t c = 0; c < ch; ++c) p[c * h * w + i] = means[static_cast<size_t>(c)];
      return out;
    };
    std::vector<size_t> identity(segs.size());
    for (size_t i = 0; i < identity.size(); ++i) identity[i] = i;
    const std::vector<double> ends = metric_detail::scores(
        *img.net, at::stack({x, removed(identity, s)}).to(img.x.device()), img.target, "prob",
        opt.batch);
    const double f0 = ends[0], fs = ends[1];
    const at::Tensor r = metric_detail::pixel_relevance(relevance).flatten(1).contiguous();
    if (!(f0 > 0)) return MetricValues(static_cast<size_t>(r.size(0)), std::nullopt);
    // Every configuration's removal order; a set of removed segments that several
    // configurations reach (their first segments agree) is rendered and forwarded once.
    std::map<std::string, size_t> index;  // removed-segment flags -> unique image
    std::vector<at::Tensor> images;
    std::vector<std::vector<size_t>> image_of(static_cast<size_t>(r.size(0)));
    for (int64_t k = 0; k < r.size(0); ++k) {
      const double* v = r[k].data_ptr<double>();
      std::vector<double> mean;
      for (const auto& seg : segs) {
        double sum = 0;
        for (int64_t i : seg) sum += v[i];
        mean.push_back(sum / static_cast<double>(seg.size()));
      }
      std::vector<size_t> order = identity;
      std::stable_sort(order.begin(), order.end(),
                       [&](size_t a, size_t b) { return mean[a] > mean[b]; });
      std::string flags(segs.size(), '\0');
      for (int64_t j = 1; j < s; ++j) {
        flags[order[static_cast<size_t>(j - 1)]] = 1;
        const auto [it, fresh] = index.emplace(flags, images.size());
        if (fresh) images.push_back(removed(order, j));
        image_of[static_cast<size_t>(k)].push_back(it->second);
      }
    }
    std::vector<double> mid;
    if (!images.empty())
      mid = metric_detail::scores(*img.net, at::stack(images).to(img.x.device()), img.target,
                                  "prob", opt.batch);
    MetricValues out;
    for (const std::vector<size_t>& ids : image_of) {
      std::vector<double> f = {f0};
      for (size_t id : ids) f.push_back(mid[id]);
      f.push_back(fs);
      double auc = 0;
      for (int64_t j = 0; j < s; ++j) auc += (f[j] / f0 + f[j + 1] / f0) / 2 / static_cast<double>(s);
      out.push_back(1.0 - auc);
    }
    return out;
  };
  return m;
}

}  // namespace lrpbench
