#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "util/error.h"

namespace lrpbench {
namespace {

struct ClassifyArgs {
  CommonOptions common;
  InputSpec input;
  int top = 5;
  bool quiet = false;
};

void run_classify(const ClassifyArgs& a) {
  require(a.top > 0, "--top: expected a positive number");
  const at::Device device = setup_runtime(a.common);
  const PreparedModel m = prepare_model(a.common, device);
  const InputBatch in = load_inputs(a.input, m.net);
  c10::InferenceMode guard;
  const int64_t n = in.x.size(0);
  int64_t labelled = 0, correct = 0;
  for (int64_t s = 0; s < n; s += a.common.batch) {
    const int64_t e = std::min(n, s + a.common.batch);
    const at::Tensor logits = forward(m.net, in.x.slice(0, s, e).to(device)).to(at::kCPU);
    const at::Tensor probs = logits.softmax(1);
    const int64_t k = std::min<int64_t>(a.top, logits.size(1));
    const auto [vals, idx] = probs.topk(k, 1);
    for (int64_t i = s; i < e; ++i) {
      const int64_t label = in.labels[static_cast<size_t>(i)];
      const int64_t pred = idx[i - s][0].item<int64_t>();
      if (label >= 0) {
        ++labelled;
        correct += pred == label;
      }
      if (a.quiet) continue;
      std::cout << "image " << in.ids[static_cast<size_t>(i)].dump();
      if (label >= 0) std::cout << " (label " << label << " " << class_name(m.net, label) << ")";
      std::cout << "\n";
      for (int64_t j = 0; j < k; ++j) {
        const int64_t c = idx[i - s][j].item<int64_t>();
        char line[256];
        std::snprintf(line, sizeof line, "  %4lld  %-24s logit %10.4f  prob %.4f\n",
                      static_cast<long long>(c), class_name(m.net, c).c_str(),
                      logits[i - s][c].item<double>(), vals[i - s][j].item<double>());
        std::cout << line;
      }
    }
  }
  if (labelled > 0) {
    char line[128];
    std::snprintf(line, sizeof line, "accuracy %.4f (%lld of %lld)\n",
                  static_cast<double>(correct) / static_cast<double>(labelled),
                  static_cast<long long>(correct), static_cast<long long>(labelled));
    std::cout << line;
  }
}

}  // namespace

void add_classify_command(CLI::App& app) {
  auto args = std::make_shared<ClassifyArgs>();
  CLI::App* sub = app.add_subcommand(
      "classify", "print the top-k classes of each input, and the accuracy on a dataset");
  add_model_run_options(sub, args->common, args->input);
  add_bounded_option(sub, "--top", args->top, 1, 1000,
                     "how many classes to print per image (default 5)");
  sub->add_flag("--quiet", args->quiet, "print the accuracy only");
  sub->callback([args] { run_classify(*args); });
}

}  // namespace lrpbench
