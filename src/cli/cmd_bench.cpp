#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/evaluate_options.h"
#include "lrp/engine.h"
#include "lrp/presets.h"
#include "perturbation/curves.h"
#include "util/error.h"
#include "util/timing.h"

namespace lrpbench {
namespace {

struct BenchArgs {
  CommonOptions common;
  InputSpec input;
  PFOptions pf;
  int repeats = 5;
};

// The 4x4 Tutorial sub-grid: every fifth value of log(-4,0,15)+0 on both axes.
std::vector<Composite> tutorial_subgrid(const Network& net) {
  const double values[4] = {0.0, 1e-4 * std::pow(10.0, 4.0 * 4 / 14),
                            1e-4 * std::pow(10.0, 4.0 * 9 / 14), 1.0};
  std::vector<Composite> out;
  for (double g : values)
    for (double e : values) out.push_back(tutorial_composite(net, g, e));
  return out;
}

at::Tensor bench_input(const BenchArgs& a, const PreparedModel& m, const at::Device& device) {
  if (!a.input.images.empty() || !a.input.npy.empty() || !a.input.dataset.empty())
    return load_inputs(a.input, m.net).x.narrow(0, 0, 1).to(device);
  at::Generator gen = at::detail::createCPUGenerator(a.common.seed);
  const int64_t s = m.net.default_size;
  return at::randn({1, m.net.in_channels, s, s}, gen, at::TensorOptions()).to(device);
}

void run_bench_explain(const BenchArgs& a) {
  const at::Device device = setup_runtime(a.common);
  const PreparedModel m = prepare_model(a.common, device);
  const at::Tensor x = bench_input(a, m, device);
  const std::vector<int64_t> target = {-1};
  const Composite tut = tutorial_composite(m.net, 0.25, 0.25);
  const std::vector<Composite> grid = tutorial_subgrid(m.net);
  const ExplainOptions quiet{false};
  // Every timed body ends in .item(), which waits for the device.
  const double fwd = median_ms(
      [&] {
        c10::InferenceMode g;
        forward(m.net, x).sum().item<float>();
      },
      a.repeats);
  const double fwd_grad = median_ms(
      [&] {
        at::Tensor xi = x.detach().clone().set_requires_grad(true);
        at::Tensor logits = forward(m.net, xi);
        logits.select(1, logits.argmax(1).item<int64_t>()).sum().backward();
        xi.grad().sum().item<float>();
      },
      a.repeats);
  const double one = median_ms(
      [&] { explain(m.net, x, target, {tut}, quiet).relevance.sum().item<float>(); }, a.repeats);
  const double rss = peak_rss_mb();
  const double sixteen = median_ms(
      [&] { explain(m.net, x, target, grid, quiet).relevance.sum().item<float>(); }, a.repeats);
  const nlohmann::json j = {{"model", m.net.arch},
                            {"device", device.str()},
                            {"threads", at::get_num_threads()},
                            {"forward_ms", fwd},
                            {"forward_grad_ms", fwd_grad},
                            {"explain_ms", one},
                            {"explain16_ms", sixteen},
                            {"ratio_explain_forward", one / fwd},
                            {"ratio_explain_forward_grad", one / fwd_grad},
                            {"ratio_16_single", sixteen / (16.0 * one)},
                            {"peak_rss_mb", rss},
                            {"peak_rss16_mb", peak_rss_mb()}};
  std::cout << j.dump(2) << std::endl;
}

// One MoRF curve of a Tutorial explanation against forwarding its images alone, batched the
// same way; and what the cache saves on 16 configurations x 3 orders of one image.
void run_bench_evaluate(const BenchArgs& a) {
  const at::Device device = setup_runtime(a.common);
  const PreparedModel m = prepare_model(a.common, device);
  const at::Tensor x = bench_input(a, m, device);
  const PFSettings s = a.pf.settings(x.size(2), x.size(3), a.common);
  std::vector<int64_t> target = {-1};
  const at::Tensor rel =
      explain_in_batches(m.net, x, target, tutorial_composite(m.net, 0.25, 0.25), 1);
  const ImageContext ctx = make_context(x[0], m.net.mean, m.net.std, s.patch, 0);
  const std::vector<PFImageJobs> one = {{&ctx, target[0], {{Order::Morf, rel[0]}}}};
  const double fwd = median_ms(
      [&] {
        c10::InferenceMode g;
        forward(m.net, x).sum().item<float>();
      },
      a.repeats);
  const double curve = median_ms([&] { score_curves(m.net, one, s); }, a.repeats);
  // The same images, rendered beforehand, forwarded alone in the same batches.
  const auto steps = job_steps(ctx, one[0].jobs[0], s);
  std::vector<at::Tensor> imgs = {ctx.x};
  for (size_t k = 1; k <= steps.size(); ++k)
    imgs.push_back(render(ctx, s, {steps.begin(), steps.begin() + static_cast<std::ptrdiff_t>(k)},
                          k == steps.size()));
  const double forwards = median_ms(
      [&] {
        c10::InferenceMode g;
        for (size_t b = 0; b < imgs.size(); b += static_cast<size_t>(s.batch)) {
          const std::vector<at::Tensor> chunk(
              imgs.begin() + static_cast<std::ptrdiff_t>(b),
              imgs.begin() + static_cast<std::ptrdiff_t>(
                                 std::min(imgs.size(), b + static_cast<size_t>(s.batch))));
          forward(m.net, at::stack(chunk).to(device).contiguous(at::MemoryFormat::ChannelsLast))
              .sum()
              .item<float>();
        }
      },
      a.repeats);
  // 16 configurations (a 4x4 Tutorial sub-grid) x 3 orders on one image.
  std::vector<Composite> grid = tutorial_subgrid(m.net);
  const Explanation ex = explain(m.net, x, target, grid, ExplainOptions{false});
  PFImageJobs many{&ctx, target[0], {}};
  for (int64_t k = 0; k < 16; ++k)
    for (Order o : {Order::Morf, Order::Lrf, Order::Random})
      many.jobs.push_back({o, ex.relevance[0][k].to(at::kCPU)});
  const PFStats st = score_curves(m.net, {many}, s).stats;
  const nlohmann::json j = {
      {"model", m.net.arch},
      {"device", device.str()},
      {"threads", at::get_num_threads()},
      {"mode", s.mode},
      {"patch", s.patch},
      {"points", imgs.size()},
      {"batch", s.batch},
      {"forward_ms", fwd},
      {"curve_ms", curve},
      {"curve_forwards_ms", forwards},
      {"ratio_curve_forwards", curve / forwards},
      {"cache_16x3",
       {{"curves", 48}, {"points", st.points}, {"forwards", st.forwards}, {"hits", st.hits()}}}};
  std::cout << j.dump(2) << std::endl;
}

}  // namespace

void add_bench_command(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "time the engines (medians after a warm-up)");
  bench->require_subcommand(1);
  auto args = std::make_shared<BenchArgs>();
  CLI::App* ex = bench->add_subcommand(
      "explain",
      "forward, forward+gradient, one Tutorial explanation and 16 composites (4x4 "
      "Tutorial sub-grid) of one image");
  add_common_options(ex, args->common);
  add_model_options(ex, args->common);
  add_input_options(ex, args->input);
  ex->add_option("--repeats", args->repeats, "timed repetitions (default 5)");
  ex->callback([args] { run_bench_explain(*args); });
  auto eargs = std::make_shared<BenchArgs>();
  CLI::App* ev = bench->add_subcommand(
      "evaluate",
      "one MoRF curve against forwarding its images alone (same batches), and the "
      "cache's savings on 16 configurations x 3 orders");
  add_common_options(ev, eargs->common);
  add_model_options(ev, eargs->common);
  add_input_options(ev, eargs->input);
  add_pf_options(ev, eargs->pf);
  ev->add_option("--repeats", eargs->repeats, "timed repetitions (default 5)");
  ev->callback([eargs] { run_bench_evaluate(*eargs); });
}

}  // namespace lrpbench
