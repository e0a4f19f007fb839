#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/evaluate_options.h"
#include "cli/metric_options.h"
#include "perturbation/metric.h"
#include "lrp/engine.h"
#include "lrp/presets.h"
#include "model/conv.h"
#include "perturbation/curves.h"
#include "perturbation/evaluation.h"
#include "search/runner.h"
#include "util/error.h"
#include "util/timing.h"

namespace lrpbench {
namespace {

struct BenchArgs {
  CommonOptions common;
  InputSpec input;
  PFOptions pf;
  std::string composite = "tutorial";
  int repeats = 5;
  int64_t search_images = 5;  // bench metrics: images of the fashion-thesis comparison
  int search_rounds = 3;      // bench metrics: its interleaved rounds
};

// The 4x4 Tutorial sub-grid: every fifth value of log(-4,0,15)+0 on both axes.
// 16 composites of one family over a 4 x 4 grid: Tutorial's (gamma, eps) on CNNs, cp-lrp's
// (gc, gl) on transformers (a node kind with rules of its own).
std::vector<Composite> bench_grid(const Network& net) {
  const double values[4] = {0.0, 1e-4 * std::pow(10.0, 4.0 * 4 / 14),
                            1e-4 * std::pow(10.0, 4.0 * 9 / 14), 1.0};
  const bool transformer = has_own_rule_kinds(net);
  std::vector<Composite> out;
  for (double g : values)
    for (double e : values)
      out.push_back(transformer ? transformer_composite(net, false, g, e)
                                : tutorial_composite(net, g, e));
  return out;
}

at::Tensor bench_input(const BenchArgs& a, const PreparedModel& m, const at::Device& device) {
  if (!a.input.images.empty() || !a.input.npy.empty() || !a.input.dataset.empty())
    return load_inputs(a.input, m.net).x.narrow(0, 0, 1).to(device);
  at::Generator gen = at::detail::createCPUGenerator(a.common.seed);
  const int64_t s = m.net.default_size;
  return at::randn({1, m.net.in_channels, s, s}, gen, at::TensorOptions()).to(device);
}

// The network with its parameters requiring gradients (aliases of the same storage): a
// backward pass then computes the parameters' gradients too, as `loss.backward()` does on a
// PyTorch model by default.
Network with_parameter_gradients(const Network& net) {
  Network g = net;
  for (Layer& l : g.layers)
    for (at::Tensor* t : {&l.weight, &l.bias})
      if (t->defined()) *t = t->detach().set_requires_grad(true);
  return g;
}

// Forward + the input gradient of the top logit; with `params`, the gradients of the network's
// parameters too (dropped afterwards, as zero_grad(set_to_none=True) does).
void forward_gradient(const Network& net, const at::Tensor& x, bool params) {
  at::Tensor xi = x.detach().clone().set_requires_grad(true);
  at::Tensor logits = forward(net, xi);
  logits.select(1, logits.argmax(1).item<int64_t>()).sum().backward();
  xi.grad().sum().item<float>();
  if (params)
    for (const Layer& l : net.layers)
      for (const at::Tensor* t : {&l.weight, &l.bias})
        if (t->defined()) t->mutable_grad() = at::Tensor();
}

void run_bench_explain(const BenchArgs& a) {
  const at::Device device = setup_runtime(a.common);
  const PreparedModel m = prepare_model(a.common, device);
  const at::Tensor x = bench_input(a, m, device);
  const std::vector<int64_t> target = {-1};
  const Composite tut = parse_composite(a.composite, m.loaded.net);
  const std::vector<Composite> grid = bench_grid(m.net);
  const ExplainOptions quiet{false};
  // Every timed body ends in .item(), which waits for the device. One explanation first:
  // the first timed block otherwise pays for waking the thread pool (seen: 15 ms medians
  // for a 0.4 ms forward).
  explain(m.net, x, target, {tut}, quiet);
  // Forward, forward + gradient and the explanation in turn, round after round: the ratios
  // are medians of each round's ratio, so a load that drifts over the run cancels out.
  const std::vector<std::vector<double>> t = interleaved_ms(
      {[&] {
         c10::InferenceMode g;
         forward(m.net, x).sum().item<float>();
       },
       [&] { forward_gradient(m.net, x, false); },
       [&] { explain(m.net, x, target, {tut}, quiet).relevance.sum().item<float>(); }},
      a.repeats, 2);
  const double fwd = median(t[0]), fwd_grad = median(t[1]), one = median(t[2]);
  const double rss = peak_rss_mb();
  const double sixteen = median_ms(
      [&] { explain(m.net, x, target, grid, quiet).relevance.sum().item<float>(); }, a.repeats);
  const double rss16 = peak_rss_mb();
  // Forward + gradient as PyTorch users usually time it (parameters requiring gradients, the
  // default), against the explanation in the same rounds; after both RSS readings, as the
  // parameters' gradients take memory of their own.
  const Network with_params = with_parameter_gradients(m.net);
  const std::vector<std::vector<double>> tp = interleaved_ms(
      {[&] { forward_gradient(with_params, x, true); },
       [&] { explain(m.net, x, target, {tut}, quiet).relevance.sum().item<float>(); }},
      a.repeats, 1);
  // What batch-invariant convolutions cost: forward and explanation with LibTorch's own choice
  // of convolution kernel (model/conv.h) against the same in the same rounds.
  auto libtorch_conv = [](const std::function<void()>& f) {
    return [f] {
      const LibTorchConvolutionScope scope;
      f();
    };
  };
  const std::function<void()> fwd_body = [&] {
    c10::InferenceMode g;
    forward(m.net, x).sum().item<float>();
  };
  const std::function<void()> explain_body = [&] {
    explain(m.net, x, target, {tut}, quiet).relevance.sum().item<float>();
  };
  const std::vector<std::vector<double>> tc = interleaved_ms(
      {fwd_body, libtorch_conv(fwd_body), explain_body, libtorch_conv(explain_body)}, a.repeats,
      1);
  const nlohmann::json j = {{"model", m.net.arch},
                            {"composite", canonical_form(tut, m.loaded.net)},
                            {"device", device.str()},
                            {"threads", at::get_num_threads()},
                            {"forward_ms", fwd},
                            {"forward_grad_ms", fwd_grad},
                            {"explain_ms", one},
                            {"explain16_ms", sixteen},
                            {"ratio_explain_forward", median_ratio(t[2], t[0])},
                            {"ratio_explain_forward_grad", median_ratio(t[2], t[1])},
                            {"forward_grad_params_ms", median(tp[0])},
                            {"ratio_explain_forward_grad_params", median_ratio(tp[1], tp[0])},
                            {"ratio_16_single", sixteen / (16.0 * one)},
                            {"forward_libtorch_conv_ms", median(tc[1])},
                            {"explain_libtorch_conv_ms", median(tc[3])},
                            {"ratio_forward_invariant_libtorch_conv", median_ratio(tc[0], tc[1])},
                            {"ratio_explain_invariant_libtorch_conv", median_ratio(tc[2], tc[3])},
                            {"peak_rss_mb", rss},
                            {"peak_rss16_mb", rss16}};
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
  for (size_t k = 1; k <= steps.size(); ++k) imgs.push_back(render(ctx, s, steps, k));
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
  std::vector<Composite> grid = bench_grid(m.net);
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

// fashion-thesis on 5 images and a 4x4 grid: work per curve inside the search against
// scoring the same curves one by one with evaluate's code path (explain + evaluate).
void run_bench_search(const BenchArgs& a) {
  const at::Device device = setup_runtime(a.common);
  Experiment exp = preset_experiment("fashion-thesis", "", "");
  exp.data.count = 5;
  const std::vector<double> all = exp.families[0].params[0].values();
  const std::vector<double> sub = {all[0], all[5], all[10], all[15]};
  for (Family& f : exp.families) f = builtin_family(f.name, sub, sub);
  const Plan plan = make_plan(exp, device);
  UnitStats st;
  int64_t curves = 0;
  const double search_ms = median_ms(
      [&] {
        UnitStats s;
        int64_t n = 0;
        for (const UnitRow& u : plan.units)
          n += static_cast<int64_t>(compute_unit(plan, u, &s).curves.size());
        st = s;
        curves = n;
      },
      a.repeats, 1);
  // The same curves one at a time: explain with the composite, then score one order.
  std::vector<std::tuple<const ConfigRow*, const ImageRow*, Order>> sample;
  for (const ImageRow& im : plan.images)
    for (const ConfigRow& c : plan.configs)
      for (Order o : exp.orders) sample.push_back({&c, &im, o});
  const double eval_ms =
      median_ms(
          [&] {
            for (const auto& [c, im, o] : sample) {
              std::vector<int64_t> t = {im->target};
              const at::Tensor x = plan.x.narrow(0, im->id, 1);
              const at::Tensor rel =
                  explain_in_batches(plan.net, x, t, parse_composite(c->spec, plan.loaded.net), 1);
              evaluate_explanations(plan.net, x, rel, t, {seed_index(*im)}, {o}, plan.exp.pf);
            }
          },
          1, 1) /
      static_cast<double>(sample.size());
  // What K-composite sharing saves: the 16 composites of one unit in one call vs apart.
  std::vector<Composite> grid;
  for (const ConfigRow& c : plan.configs)
    if (c.family == "tutorial") grid.push_back(plan.composites[static_cast<size_t>(c.id)]);
  const at::Tensor x0 = plan.x.narrow(0, 0, 1).to(device);
  const std::vector<int64_t> t0 = {plan.images[0].target};
  const double shared =
      median_ms([&] { explain(plan.net, x0, t0, grid, ExplainOptions{false}); }, a.repeats);
  const double apart = median_ms(
      [&] {
        for (const Composite& c : grid) explain(plan.net, x0, t0, {c}, ExplainOptions{false});
      },
      a.repeats);
  const nlohmann::json j = {
      {"curves", curves},
      {"search_ms", search_ms},
      {"evaluate_ms_per_curve", eval_ms},
      {"ratio_search_evaluate", search_ms / static_cast<double>(curves) / eval_ms},
      {"threads", at::get_num_threads()},
      {"k_composite",
       {{"composites", st.composites},
        {"backward_rows_at_input", st.backward_rows},
        {"explain16_shared_ms", shared},
        {"explain16_apart_ms", apart}}},
      {"cache",
       {{"points", st.points}, {"forwards", st.forwards}, {"hits", st.points - st.forwards}}}};
  std::cout << j.dump(2) << std::endl;
}

// fashion-thesis on the first `images` images with every metric (fashion-thesis-metrics)
// against PF only: `rounds` rounds, each timing every work unit of PF only and then of every
// metric; medians of the round times and of each round's ratio (a load that drifts over the
// run cancels out of the ratio). Each plan first computes its reference unit once, untimed,
// so that neither side pays for the backends' first calls.
void search_all_against_pf(int64_t images, int rounds, const at::Device& device,
                           nlohmann::json& out) {
  auto plan_of = [&](const char* preset) {
    Experiment exp = preset_experiment(preset, "", "");
    exp.data.count = images;
    return make_plan(exp, device);
  };
  const Plan pf = plan_of("fashion-thesis"), all = plan_of("fashion-thesis-metrics");
  for (const Plan* p : {&pf, &all})
    for (const UnitRow& u : p->units)
      if (u.family == "reference") {
        compute_unit(*p, u);
        break;
      }
  auto every_unit = [](const Plan& p) {
    return [&p] {
      for (const UnitRow& u : p.units) compute_unit(p, u);
    };
  };
  const std::vector<std::vector<double>> t =
      interleaved_ms({every_unit(pf), every_unit(all)}, rounds, 0);
  out["search_images"] = images;
  out["search_rounds"] = rounds;
  out["search_pf_ms"] = median(t[0]);
  out["search_all_ms"] = median(t[1]);
  out["ratio_all_pf"] = median_ratio(t[1], t[0]);
}

// Per metric: one image under the 16 configurations of the Tutorial sub-grid scored in one
// call (as a search unit would: shared perturbations, one engine call for max-sensitivity)
// against the same 16 values one configuration at a time (evaluate's code path).
void run_bench_metrics(const BenchArgs& a, const MetricCliOptions& mo) {
  const at::Device device = setup_runtime(a.common);
  const PreparedModel m = prepare_model(a.common, device);
  const at::Tensor x = bench_input(a, m, device);
  const PFSettings s = a.pf.settings(x.size(2), x.size(3), a.common);
  MetricOptions opt = mo.settings(a.common.seed, s.score, a.common.batch);
  std::vector<std::string> scored;  // no --metrics: every metric
  if (mo.metrics.empty())
    for (const Metric& metric : metrics()) scored.push_back(metric.name);
  else
    scored = metric_names(parse_metrics(mo.metrics));
  opt.check_image(x.size(2), x.size(3), scored);
  opt.pf = s;
  const std::vector<Composite> grid = bench_grid(m.net);
  const ExplainOptions quiet{false};
  std::vector<int64_t> target = {-1};
  const Explanation ex = explain(m.net, x, target, grid, quiet);
  target = ex.targets;
  const at::Tensor rel = ex.relevance[0].to(at::kCPU);  // 16 x C x H x W
  MetricImage img;
  img.net = &m.net;
  img.x = x;
  img.target = target[0];
  img.mask = fashion_foreground(m.net, x[0]);
  if (!img.mask.defined())  // no foreground: the central quarter stands in
    img.mask = at::zeros({x.size(2), x.size(3)}, at::kBool)
                   .slice(0, x.size(2) / 4, 3 * x.size(2) / 4)
                   .slice(1, x.size(3) / 4, 3 * x.size(3) / 4)
                   .fill_(true);
  auto explainer = [&](const std::vector<Composite>& comps) {
    return [&, comps](const at::Tensor& in) {
      std::vector<int64_t> t(static_cast<size_t>(in.size(0)), target[0]);
      return explain(m.net, in, t, comps, quiet).relevance.to(at::kCPU);
    };
  };
  const std::vector<const Metric*> which =
      mo.metrics.empty() ? std::vector<const Metric*>() : parse_metrics(mo.metrics);
  nlohmann::json out = nlohmann::json::object();
  for (const Metric& metric : metrics()) {
    if (!which.empty() && std::find(which.begin(), which.end(), &metric) == which.end()) continue;
    const double shared = median_ms(
        [&] {
          MetricImage i = img;
          i.explain = explainer(grid);
          metric.score(i, rel, opt);
        },
        a.repeats, 1);
    const double apart = median_ms(
        [&] {
          for (size_t k = 0; k < grid.size(); ++k) {
            MetricImage i = img;
            i.explain = explainer({grid[k]});
            metric.score(i, rel.narrow(0, static_cast<int64_t>(k), 1), opt);
          }
        },
        a.repeats, 1);
    const double per = shared / static_cast<double>(grid.size());
    out[metric.name] = {{"ms_per_config_image", per},
                        {"ms_one_by_one", apart / static_cast<double>(grid.size())},
                        {"ratio", shared / apart}};
  }
  if (a.search_images > 0) search_all_against_pf(a.search_images, a.search_rounds, device, out);
  out["model"] = m.net.arch;
  out["threads"] = at::get_num_threads();
  std::cout << out.dump(2) << std::endl;
}

}  // namespace

void add_bench_command(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "time the engines (medians after a warm-up)");
  bench->require_subcommand(1);
  auto args = std::make_shared<BenchArgs>();
  CLI::App* ex = bench->add_subcommand(
      "explain",
      "forward, forward + input gradient, forward + input and parameter gradients (what "
      "PyTorch's backward() computes by default), one explanation (--composite, default "
      "tutorial) and 16 composites (4x4 Tutorial sub-grid; on transformers cp-lrp over 4 gc x 4 "
      "gl) of one image; forward and "
      "explanation again with LibTorch's own convolution kernel (*_libtorch_conv_ms: what "
      "batch-invariant convolutions cost)");
  add_model_run_options(ex, args->common, args->input);
  ex->add_option("--composite", args->composite,
                 "composite of the single explanation (default tutorial)");
  add_bounded_option(ex, "--repeats", args->repeats, 1, 1000, "timed repetitions (default 5)");
  ex->callback([args] { run_bench_explain(*args); });
  auto eargs = std::make_shared<BenchArgs>();
  CLI::App* ev = bench->add_subcommand(
      "evaluate",
      "one MoRF curve against forwarding its images alone (same batches), and the "
      "cache's savings on 16 configurations x 3 orders");
  add_model_run_options(ev, eargs->common, eargs->input);
  add_pf_options(ev, eargs->pf);
  add_bounded_option(ev, "--repeats", eargs->repeats, 1, 1000, "timed repetitions (default 5)");
  ev->callback([eargs] { run_bench_evaluate(*eargs); });
  auto sargs = std::make_shared<BenchArgs>();
  CLI::App* se = bench->add_subcommand(
      "search",
      "fashion-thesis on 5 images and a 4x4 grid against scoring its curves one by one "
      "with evaluate's code path");
  add_common_options(se, sargs->common);
  add_bounded_option(se, "--repeats", sargs->repeats, 1, 1000,
                     "timed repetitions of the search (default 5)");
  se->callback([sargs] { run_bench_search(*sargs); });
  auto margs = std::make_shared<BenchArgs>();
  auto mopts = std::make_shared<MetricCliOptions>();
  CLI::App* me = bench->add_subcommand(
      "metrics",
      "per metric, one image under 16 configurations (the 4x4 Tutorial sub-grid) scored in "
      "one call against one configuration at a time: ms per (configuration, image) and ratio");
  add_model_run_options(me, margs->common, margs->input);
  add_pf_options(me, margs->pf);
  add_metric_options(me, *mopts);
  add_bounded_option(me, "--repeats", margs->repeats, 1, 1000, "timed repetitions (default 5)");
  add_bounded_option(me, "--search-images", margs->search_images, 0, 50,
                     "images of the fashion-thesis run with every metric against PF only, "
                     "timed in interleaved rounds (default 5; 0 skips it)");
  add_bounded_option(me, "--search-rounds", margs->search_rounds, 1, 20,
                     "rounds of that comparison, each timing PF only and then every metric; "
                     "medians of the times and of the per-round ratio (default 3)");
  me->callback([margs, mopts] { run_bench_metrics(*margs, *mopts); });
}

}  // namespace lrpbench
