#pragma once
// Faithfulness, complexity, robustness and localisation metrics of explanations
// (docs/method.md section 6), as a registry of values: a metric is a name, a direction, what it
// needs besides the relevance, and a function that scores one image under K configurations at
// once. Adding one is one file in perturbation/metrics/ and one line in metric.cpp.
//
// Shapes: x is the normalised image 1 x C x H x W on the model's device; relevance is
// K x C x H x W (one map per configuration, CPU float). Work that does not depend on the
// explanation (perturbed images and their scores, noise) is done once per call and shared by
// the K configurations.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "model/network.h"
#include "perturbation/metric_catalogue.h"

namespace lrpbench {

// Explains inputs S x C x H x W (normalised, on the device) for the target under every
// configuration of the call: S x K x C x H x W on the CPU.
using Explainer = std::function<at::Tensor(const at::Tensor& inputs)>;

struct MetricImage {
  const Network* net = nullptr;
  at::Tensor x;                // 1 x C x H x W, normalised, on the model's device
  int64_t target = 0;
  int64_t index = 0;           // image index: the seed stream of random draws
  at::Tensor mask;             // H x W bool (undefined: none)
  Explainer explain;           // empty: the configurations are not known (--relevance)
};

using MetricValues = std::vector<std::optional<double>>;  // one per configuration

// A catalogue entry (perturbation/metric_catalogue.h) with its scoring function.
struct Metric : MetricInfo {
  std::function<MetricValues(const MetricImage&, const at::Tensor& relevance,
                             const MetricOptions&)>
      score;
};

// Every metric of the catalogue with its implementation, in documentation order (a catalogue
// entry without an implementation, or the reverse, is a std::logic_error at first use).
const std::vector<Metric>& metrics();
// The metric called `name`; throws InputError naming the known ones.
const Metric& find_metric(const std::string& name);
// The names of `which`, in its order.
std::vector<std::string> metric_names(const std::vector<const Metric*>& which);
// A comma list of metric names, each known, without repeats; throws InputError.
std::vector<const Metric*> parse_metrics(const std::string& comma_list);

// Every metric on every image (one configuration per image): values[metric][image].
// x: N x C x H x W normalised (CPU), relevance: N x C x H x W, masks: one per image
// (undefined: none), explain(inputs, image): inputs S x C x H x W -> S x 1 x C x H x W for
// image's target and configuration (empty: not available). A metric that needs a mask where
// no image has one, or explanations without `explain`, throws InputError; an image without a
// mask is undefined for it.
std::vector<MetricValues> score_metrics(
    const Network& net, const at::Tensor& x, const at::Tensor& relevance,
    const std::vector<int64_t>& targets, const std::vector<int64_t>& indices,
    const std::vector<at::Tensor>& masks,
    const std::function<at::Tensor(const at::Tensor&, size_t)>& explain,
    const std::vector<const Metric*>& which, const MetricOptions& opt);

// The mean over defined values and the count of undefined ones.
std::pair<std::optional<double>, int64_t> mean_defined(const MetricValues& v);

// The Fashion-MNIST foreground of one one-channel image (1 x H x W) under that normalisation:
// H x W bool,
// rounded 8-bit value > 0 (undefined for other inputs).
at::Tensor fashion_foreground(const Network& net, const at::Tensor& x);

// Helpers shared by the metric files.
namespace metric_detail {
// Relevance summed over channels, one H x W double map per configuration: K x H x W.
at::Tensor pixel_relevance(const at::Tensor& relevance);
// f(x) of the target for each input (N x C x H x W, normalised), batched: "logit" or "prob".
std::vector<double> scores(const Network& net, const at::Tensor& inputs, int64_t target,
                           const std::string& score, int64_t batch);
// Inputs forwarded by scores() since the start (for tests of shared work).
int64_t forwarded_inputs();
// A seeded stream key for draw k of image `index` (random draws never depend on the
// configuration).
uint64_t stream_key(uint64_t seed, const char* metric, int64_t index, int64_t k);
// The normalised value of pixel value v per channel: 1 x C x 1 x 1.
at::Tensor normalised_pixel(const Network& net, double v, const at::TensorOptions& o);
}  // namespace metric_detail

// The metric files' factories (their `score`; registered in metric.cpp).
Metric sparseness_metric();
Metric complexity_metric();
Metric relevance_mass_metric();
Metric pointing_game_metric();
Metric faithfulness_correlation_metric();
Metric max_sensitivity_metric();
Metric pf_morf_metric();
Metric pf_lrf_metric();
Metric pf_random_metric();
Metric deletion_metric();
Metric insertion_metric();
Metric irof_metric();
Metric road_morf_metric();
Metric road_lerf_metric();
// ROAD's linear imputation (noise 0): pixels C x H x W (pixel values), removed: H x W flags.
// Removed pixels become the weighted mean of their 8 neighbours (1/6 direct, 1/12 diagonal,
// renormalised inside the image), kept pixels stay; returns C x H x W double.
at::Tensor road_impute(const at::Tensor& pixels, const std::vector<uint8_t>& removed);
// IROF's SLIC superpixels of one image (C x H x W, normalised): pixel indices (row-major) per
// label, labels ascending.
std::vector<std::vector<int64_t>> slic_segments(const at::Tensor& x, const Network& net,
                                                int64_t region);

}  // namespace lrpbench
