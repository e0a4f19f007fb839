#include "perturbation/metric.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cmath>
#include <atomic>
#include <map>
#include <stdexcept>
#include <set>

#include "perturbation/order.h"

#include "util/error.h"

namespace lrpbench {

const std::vector<Metric>& metrics() {
  static const std::vector<Metric> all = [] {
    // The implementations: one line per metric of the catalogue.
    const std::map<std::string, Metric> impl = {
        {"pf-morf", pf_morf_metric()},
        {"pf-lrf", pf_lrf_metric()},
        {"pf-random", pf_random_metric()},
        {"deletion", deletion_metric()},
        {"insertion", insertion_metric()},
        {"road-morf", road_morf_metric()},
        {"road-lerf", road_lerf_metric()},
        {"irof", irof_metric()},
        {"faithfulness-correlation", faithfulness_correlation_metric()},
        {"sparseness", sparseness_metric()},
        {"complexity", complexity_metric()},
        {"max-sensitivity", max_sensitivity_metric()},
        {"relevance-mass", relevance_mass_metric()},
        {"pointing-game", pointing_game_metric()},
    };
    std::vector<Metric> out;
    for (const MetricInfo& info : metric_catalogue()) {
      const auto it = impl.find(info.name);
      if (it == impl.end() || !it->second.score)
        throw std::logic_error("metric '" + info.name + "' has no implementation");
      Metric m;
      static_cast<MetricInfo&>(m) = info;
      m.score = it->second.score;
      out.push_back(std::move(m));
    }
    if (impl.size() != out.size())
      throw std::logic_error("a metric implementation has no catalogue entry");
    return out;
  }();
  return all;
}

const Metric& find_metric(const std::string& name) {
  const MetricInfo& info = find_metric_info(name);  // throws for unknown names
  for (const Metric& m : metrics())
    if (m.name == info.name) return m;
  throw std::logic_error("metric '" + name + "' has no implementation");
}

std::vector<const Metric*> parse_metrics(const std::string& comma_list) {
  std::vector<const Metric*> out;
  std::set<std::string> seen;
  size_t p = 0;
  while (p <= comma_list.size()) {
    const size_t e = std::min(comma_list.find(',', p), comma_list.size());
    const std::string name = comma_list.substr(p, e - p);
    require(!name.empty(), "--metrics: empty name in '" + comma_list + "'");
    require(seen.insert(name).second, "--metrics: '" + name + "' given twice");
    out.push_back(&find_metric(name));
    p = e + 1;
  }
  return out;
}

std::vector<std::string> metric_names(const std::vector<const Metric*>& which) {
  std::vector<std::string> out;
  for (const Metric* m : which) out.push_back(m->name);
  return out;
}

std::vector<MetricValues> score_metrics(
    const Network& net, const at::Tensor& x, const at::Tensor& relevance,
    const std::vector<int64_t>& targets, const std::vector<int64_t>& indices,
    const std::vector<at::Tensor>& masks,
    const std::function<at::Tensor(const at::Tensor&, size_t)>& explain,
    const std::vector<const Metric*>& which, const MetricOptions& opt) {
  opt.check();
  opt.check_image(x.size(2), x.size(3), metric_names(which));
  const int64_t n = x.size(0);
  for (const Metric* m : which) {
    if (m->needs == MetricNeeds::Explanations)
      require(static_cast<bool>(explain), m->name +
                                              " explains other inputs: it needs --composite, "
                                              "not --relevance");
    if (m->needs == MetricNeeds::Mask)  // images without one are undefined, none at all: refused
      require(std::any_of(masks.begin(), masks.end(), [](const at::Tensor& t) { return t.defined(); }),
              m->name + " needs a ground-truth mask (--mask FILE.npy, --boxes for ImageNet "
                        "images; Fashion-MNIST inputs use their foreground)");
  }
  const at::Device device = net.device();
  std::vector<MetricValues> out(which.size());
  for (int64_t i = 0; i < n; ++i) {
    const size_t ii = static_cast<size_t>(i);
    MetricImage img;
    img.net = &net;
    img.x = x.narrow(0, i, 1).to(device);
    img.target = targets[ii];
    img.index = indices[ii];
    if (ii < masks.size()) img.mask = masks[ii];
    if (explain) img.explain = [&, ii](const at::Tensor& in) { return explain(in, ii); };
    const at::Tensor rel = relevance.narrow(0, i, 1).to(at::kCPU);
    for (size_t m = 0; m < which.size(); ++m) out[m].push_back(which[m]->score(img, rel, opt)[0]);
  }
  return out;
}

std::pair<std::optional<double>, int64_t> mean_defined(const MetricValues& v) {
  double sum = 0;
  int64_t count = 0, undefined = 0;
  for (const auto& x : v) {
    if (x && std::isfinite(*x)) {
      sum += *x;
      ++count;
    } else {
      ++undefined;
    }
  }
  return {count ? std::optional<double>(sum / static_cast<double>(count)) : std::nullopt,
          undefined};
}

at::Tensor fashion_foreground(const Network& net, const at::Tensor& x) {
  const bool fashion = net.mean.size() == 1 && std::fabs(net.mean[0] - 0.2860) < 1e-6 &&
                       std::fabs(net.std[0] - 0.3530) < 1e-6 && x.size(0) == 1;
  if (!fashion) return {};
  const at::Tensor pixel = x[0].to(at::kCPU).to(at::kDouble) * net.std[0] + net.mean[0];
  return (pixel * 255.0).round() > 0;
}

namespace metric_detail {

namespace {
std::atomic<int64_t> g_forwarded{0};
}  // namespace

int64_t forwarded_inputs() { return g_forwarded.load(); }

uint64_t stream_key(uint64_t seed, const char* metric, int64_t index, int64_t k) {
  uint64_t h = mix64(seed);
  for (const char* c = metric; *c; ++c) h = mix64(h ^ static_cast<uint64_t>(*c));
  return mix64(mix64(h + static_cast<uint64_t>(index)) + static_cast<uint64_t>(k));
}

at::Tensor pixel_relevance(const at::Tensor& relevance) {
  return relevance.to(at::kCPU).to(at::kDouble).sum(1);
}

std::vector<double> scores(const Network& net, const at::Tensor& inputs, int64_t target,
                           const std::string& score, int64_t batch) {
  c10::InferenceMode guard;
  g_forwarded += inputs.size(0);
  std::vector<double> out;
  for (int64_t s = 0; s < inputs.size(0); s += batch) {
    // Channels-last, as PF's batches: the same oneDNN kernels, faster reorders.
    const at::Tensor logits =
        forward(net, inputs.slice(0, s, std::min(inputs.size(0), s + batch))
                         .contiguous(at::MemoryFormat::ChannelsLast));
    const at::Tensor v = (score == "prob" ? logits.softmax(1) : logits)
                             .select(1, target)
                             .to(at::kCPU)
                             .to(at::kDouble)
                             .contiguous();
    out.insert(out.end(), v.data_ptr<double>(), v.data_ptr<double>() + v.numel());
  }
  return out;
}

at::Tensor normalised_pixel(const Network& net, double v, const at::TensorOptions& o) {
  std::vector<float> c;
  for (size_t k = 0; k < net.mean.size(); ++k)
    c.push_back(static_cast<float>((v - net.mean[k]) / net.std[k]));
  return at::tensor(c, o.dtype(at::kFloat)).view({1, -1, 1, 1});
}

}  // namespace metric_detail
}  // namespace lrpbench
