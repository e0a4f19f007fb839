#pragma once
// Options and helpers shared by the subcommands.
#include <CLI/CLI.hpp>
#include <string>

#include "data/input.h"
#include "model/weights.h"

namespace lrpbench {

struct CommonOptions {
  int threads = 0;  // 0: all cores
  std::string device = "cpu";
  uint64_t seed = 0;
  int64_t batch = 64;
  std::string model = "fashion-vgg";
  std::string weights;
};

// --threads, --device, --seed, --batch.
void add_common_options(CLI::App* app, CommonOptions& o);
// --model, --weights.
void add_model_options(CLI::App* app, CommonOptions& o);
// --image, --input, --dataset, --index, --indices, --resize.
void add_input_options(CLI::App* app, InputSpec& in);

// A command that runs a model on inputs: the common, model and input options.
void add_model_run_options(CLI::App* app, CommonOptions& o, InputSpec& in);

// Applies --threads and checks --device; returns the device.
at::Device setup_runtime(const CommonOptions& o);

struct PreparedModel {
  LoadedModel loaded;  // as loaded (indices as SPEC)
  Network net;         // canonical, on the device
};
// Loads the model (warning on stderr when the parameters are random) and canonizes it.
PreparedModel prepare_model(const CommonOptions& o, const at::Device& device);

// Writes pretty JSON to a file; throws InputError when the file cannot be written.
void write_json_file(const std::string& path, const nlohmann::json& j);
// Creates a directory (and parents); throws InputError on failure.
void make_dir(const std::string& path);

}  // namespace lrpbench
