#include <algorithm>
#include <optional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "model/safetensors.h"
#include "model/state_dict.h"
#include "train/train.h"
#include "util/error.h"
#include "util/file.h"

namespace lrpbench {
namespace {

struct TrainArgs {
  CommonOptions common;
  TrainOptions train;
  std::optional<int> epochs, lr_step;  // unset: the model's default
  std::string out;
};

void run_train(const TrainArgs& a) {
  const std::vector<std::string> models = trainable_models();
  require(std::find(models.begin(), models.end(), a.common.model) != models.end(),
          "--model: only fashion-vgg, fashion-resnet and fashion-vit can be trained here (no "
          "ImageNet on these machines), not '" +
              a.common.model + "'");
  setup_runtime(a.common);
  TrainOptions opt = default_train_options(a.common.model);
  if (a.epochs) opt.epochs = *a.epochs;
  if (a.lr_step) opt.lr_step = *a.lr_step;
  opt.lr = a.train.lr;
  opt.limit = a.train.limit;
  opt.seed = a.common.seed;
  opt.batch = a.common.batch;
  const std::string out = a.out.empty() ? a.common.model + ".safetensors" : a.out;
  check_output_file(out);  // before training: a device or FIFO there is never replaced
  check_output_file(out + ".json");
  const TrainResult r = train_model(a.common.model, opt, [](const std::string& line) {
    std::cout << line << std::endl;
  });
  write_safetensors(out, state_dict_of(r.net));
  nlohmann::json info = {{"model", a.common.model}, {"epochs", opt.epochs},
                         {"batch", opt.batch},     {"lr", opt.lr},    {"lr_step", opt.lr_step},
                         {"seed", opt.seed},       {"test_accuracy", r.test_accuracy}};
  write_json_file(out + ".json", info);
  std::cout << "test accuracy " << r.test_accuracy << "; wrote " << out << "\n";
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  args->common.batch = 128;
  CLI::App* sub = app.add_subcommand(
      "train",
      "train fashion-vgg, fashion-resnet or fashion-vit on Fashion-MNIST (seeded, deterministic on CPU)");
  add_common_options(sub, args->common);
  sub->add_option("--model", args->common.model,
                  "fashion-vgg (default), fashion-resnet or fashion-vit (the trainable models)");
  CLI::Option* epochs = add_bounded_option(sub, "--epochs", args->train.epochs, 1, 1000,
                                           "epochs (default 8; fashion-vit 12)");
  add_real_option(sub, "--lr", args->train.lr, 1e-12, 10.0,
                  "Adam learning rate (default 1e-3; above 0, at most 10)");
  CLI::Option* lr_step = add_bounded_option(
      sub, "--lr-step", args->train.lr_step, 1, 1000,
      "halve the learning rate after every N epochs (default 2; fashion-vit 3)");
  add_bounded_option(sub, "--limit", args->train.limit, 0, 60000,
                     "train on the first N images only (0: all)");
  sub->add_option("--out", args->out,
                  "checkpoint to write (default MODEL.safetensors; FILE.json gets the "
                  "settings and test accuracy)");
  sub->footer("For train, --batch is the training batch size and defaults to 128.");
  sub->callback([args, epochs, lr_step] {
    if (epochs->count()) args->epochs = args->train.epochs;
    if (lr_step->count()) args->lr_step = args->train.lr_step;
    run_train(*args);
  });
}

}  // namespace lrpbench
