#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "lrp/engine.h"
#include "lrp/presets.h"
#include "util/error.h"
#include "util/timing.h"

namespace lrpbench {
namespace {

struct BenchArgs {
  CommonOptions common;
  InputSpec input;
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
}

}  // namespace lrpbench
