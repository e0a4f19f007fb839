#include "cli/common.h"

#include <ATen/ATen.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "model/canonize.h"
#include "lrp/rule.h"
#include "util/error.h"
#include "util/file.h"
#include "util/limits.h"
#include "util/threads.h"

namespace lrpbench {

uint64_t parse_bounded(const std::string& text, const std::string& name, uint64_t min,
                       uint64_t max) {
  const std::string range = " (from " + std::to_string(min) + " to " + std::to_string(max) + ")";
  require(!text.empty() && text.size() <= 20 &&
              text.find_first_not_of("0123456789") == std::string::npos,
          name + ": expected a whole number" + range + ", got '" + text + "'");
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
  require(errno != ERANGE && v >= min && v <= max,
          name + ": " + text + " is out of range" + range);
  return v;
}

double parse_real(const std::string& text, const std::string& name, double min, double max) {
  const std::string range = " (from " + format_number(min) + " to " + format_number(max) + ")";
  const bool chars_ok = !text.empty() && text.size() <= 64 &&
                        text.find_first_not_of("0123456789.eE+-") == std::string::npos;
  char* end = nullptr;
  errno = 0;
  const double v = chars_ok ? std::strtod(text.c_str(), &end) : 0.0;
  require(chars_ok && end == text.c_str() + text.size() && errno != ERANGE && std::isfinite(v),
          name + ": expected a number" + range + ", got '" + text + "'");
  require(v >= min && v <= max, name + ": " + text + " is out of range" + range);
  return v;
}

CLI::Option* add_real_option(CLI::App* app, const std::string& name, double& target, double min,
                             double max, const std::string& help) {
  return app
      ->add_option_function<std::string>(
          name,
          [&target, name, min, max](const std::string& text) {
            target = parse_real(text, name, min, max);
          },
          help)
      ->type_name("X");
}

void add_common_options(CLI::App* app, CommonOptions& o) {
  add_bounded_option(app, "--threads", o.threads, 1, kMaxThreads,
                     "CPU threads for LibTorch (default: all cores)");
  app->add_option("--device", o.device, "cpu or cuda (default cpu)");
  add_bounded_option(app, "--seed", o.seed, 0, kMaxSeed, "random seed (default 0)");
  add_bounded_option(app, "--batch", o.batch, 1, kMaxBatch, "forward batch size (default 64)");
}

void add_model_options(CLI::App* app, CommonOptions& o) {
  app->add_option("--model", o.model,
                  "fashion-vgg (default), fashion-resnet, fashion-vit, vgg11, vgg13, vgg16, vgg19 "
                  "and their _bn variants, resnet18, resnet34, resnet50, resnet101, resnet152, "
                  "vit_b_16, vit_b_32, vit_l_16, vit_l_32, or a model FILE: TorchScript (scripted "
                  "or traced) or ONNX, weights inside");
  app->add_option("--normalize", o.normalize,
                  "input normalisation of a model FILE: imagenet (default for 3 channels), "
                  "fashion-mnist (default for 1 channel) or MEAN,...:STD,...");
  app->add_option("--weights", o.weights,
                  "parameters: .safetensors, zip-format .pth or TorchScript (default: the shipped "
                  "fashion-vgg / fashion-resnet / fashion-vit checkpoint; seeded random weights "
                  "for the VGGs, ResNets and ViTs, with a warning)");
}

void add_input_options(CLI::App* app, InputSpec& in) {
  app->add_option("--image", in.images, "JPEG/PNG image file(s)");
  app->add_option("--input", in.npy, "float32 .npy, C x H x W or N x C x H x W, normalised");
  app->add_option("--dataset", in.dataset, "fashion-mnist (the test split)");
  app->add_option("--index", in.index, "dataset index N (0-based)");
  app->add_option("--indices", in.indices, "dataset indices A-B (0-based, inclusive)");
  app->add_option("--resize", in.resize, "256-crop224 (default), 224 (the thesis) or none");
}

void add_model_run_options(CLI::App* app, CommonOptions& o, InputSpec& in) {
  add_common_options(app, o);
  add_model_options(app, o);
  add_input_options(app, in);
}

at::Device setup_runtime(const CommonOptions& o) {
  set_threads(o.threads);
  if (o.device == "cpu") return at::Device(at::kCPU);
  require(o.device == "cuda", "--device: expected cpu or cuda, got '" + o.device + "'");
  require(at::hasCUDA(), "--device cuda: this build of LibTorch has no CUDA device available");
  return at::Device(at::kCUDA);
}

PreparedModel prepare_model(const CommonOptions& o, const at::Device& device) {
  PreparedModel p{load_model(o.model, o.weights, o.seed, o.normalize), {}};
  if (p.loaded.random)
    std::cerr << "lrpbench: warning: no --weights given: " << o.model
              << " uses a seeded random initialisation (seed " << o.seed << ")\n";
  p.net = canonize(p.loaded.net).to(device);
  return p;
}

void write_json_file(const std::string& path, const nlohmann::json& j) {
  write_file_atomic(path, j.dump(2) + "\n");
}

void make_dir(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  require(!ec && std::filesystem::is_directory(path),
          "--out: cannot create directory '" + path + "'");
}

}  // namespace lrpbench
