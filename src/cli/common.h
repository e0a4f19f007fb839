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
  std::string normalize;  // models from a file only
};

// Strictly parsed numeric options: decimal digits only (no sign, no wrap-around, no
// saturation), within [min, max]; anything else is exit code 2 naming the option. The
// target keeps its default when the option is not given.
template <typename T>
CLI::Option* add_bounded_option(CLI::App* app, const std::string& name, T& target, uint64_t min,
                                uint64_t max, const std::string& help);
// A finite decimal number within [min, max] (no inf, nan or hex).
CLI::Option* add_real_option(CLI::App* app, const std::string& name, double& target, double min,
                             double max, const std::string& help);
// The parsers behind them (InputError naming `name`).
uint64_t parse_bounded(const std::string& text, const std::string& name, uint64_t min,
                       uint64_t max);
double parse_real(const std::string& text, const std::string& name, double min, double max);

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
  LoadedModel loaded;  // as loaded (layer indices as docs/method.md numbers them)
  Network net;         // canonical, on the device
};
// Loads the model (warning on stderr when the parameters are random) and canonizes it.
PreparedModel prepare_model(const CommonOptions& o, const at::Device& device);

// Writes pretty JSON to a file; throws InputError when the file cannot be written.
void write_json_file(const std::string& path, const nlohmann::json& j);
// Creates a directory (and parents); throws InputError on failure.
void make_dir(const std::string& path);

template <typename T>
CLI::Option* add_bounded_option(CLI::App* app, const std::string& name, T& target, uint64_t min,
                                uint64_t max, const std::string& help) {
  return app
      ->add_option_function<std::string>(
          name,
          [&target, name, min, max](const std::string& text) {
            target = static_cast<T>(parse_bounded(text, name, min, max));
          },
          help + " [" + std::to_string(min) + ".." + std::to_string(max) + "]")
      ->type_name("N");
}

}  // namespace lrpbench
