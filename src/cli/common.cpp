#include "cli/common.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "model/canonize.h"
#include "util/error.h"
#include "util/threads.h"

namespace lrpbench {

void add_common_options(CLI::App* app, CommonOptions& o) {
  app->add_option("--threads", o.threads, "CPU threads for LibTorch (default: all cores)");
  app->add_option("--device", o.device, "cpu or cuda (default cpu)");
  app->add_option("--seed", o.seed, "random seed (default 0)");
  app->add_option("--batch", o.batch, "forward batch size (default 64)");
}

void add_model_options(CLI::App* app, CommonOptions& o) {
  app->add_option("--model", o.model,
                  "fashion-vgg (default), vgg11, vgg13, vgg16, vgg19 and their _bn variants");
  app->add_option("--weights", o.weights,
                  "parameters: .safetensors, zip-format .pth or TorchScript (default: the shipped "
                  "fashion-vgg checkpoint; seeded random weights for the VGGs, with a warning)");
}

void add_input_options(CLI::App* app, InputSpec& in) {
  app->add_option("--image", in.images, "JPEG/PNG image file(s)");
  app->add_option("--input", in.npy, "float32 .npy, C x H x W or N x C x H x W, normalised");
  app->add_option("--dataset", in.dataset, "fashion-mnist (the test split)");
  app->add_option("--index", in.indices, "dataset index N (0-based)");
  app->add_option("--indices", in.indices, "dataset indices A-B (0-based, inclusive)");
  app->add_option("--resize", in.resize, "256-crop224 (default), 224 (the thesis) or none");
}

void add_model_run_options(CLI::App* app, CommonOptions& o, InputSpec& in) {
  add_common_options(app, o);
  add_model_options(app, o);
  add_input_options(app, in);
}

at::Device setup_runtime(const CommonOptions& o) {
  require(o.threads >= 0, "--threads: expected a non-negative number");
  require(o.batch > 0, "--batch: expected a positive number");
  set_threads(o.threads);
  if (o.device == "cpu") return at::Device(at::kCPU);
  require(o.device == "cuda", "--device: expected cpu or cuda, got '" + o.device + "'");
  require(at::hasCUDA(), "--device cuda: this build of LibTorch has no CUDA device available");
  return at::Device(at::kCUDA);
}

PreparedModel prepare_model(const CommonOptions& o, const at::Device& device) {
  PreparedModel p{load_model(o.model, o.weights, o.seed), {}};
  if (p.loaded.random)
    std::cerr << "lrpbench: warning: no --weights given: " << o.model
              << " uses a seeded random initialisation (seed " << o.seed << ")\n";
  p.net = canonize(p.loaded.net).to(device);
  return p;
}

void write_json_file(const std::string& path, const nlohmann::json& j) {
  std::ofstream out(path);
  require(out.good(), "cannot write '" + path + "'");
  out << j.dump(2) << "\n";
}

void make_dir(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  require(!ec && std::filesystem::is_directory(path),
          "--out: cannot create directory '" + path + "'");
}

}  // namespace lrpbench
