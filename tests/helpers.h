#pragma once
// Shared helpers of the test suite.
#include <ATen/ATen.h>

#include <string>

#include "model/architectures.h"
#include "model/canonize.h"
#include "model/network.h"
#include "model/weights.h"
#include "search/experiment.h"
#include "util/error.h"

namespace lrpbench::test {

inline std::string source_dir() {
  return LRPBENCH_SOURCE_DIR;
}
inline std::string fixtures_dir() {
  return LRPBENCH_FIXTURES_DIR;
}
inline std::string binary() {
  return LRPBENCH_BINARY;
}
// A photo shipped by Debian's darknet package (dog.jpg, eagle.jpg, giraffe.jpg, horses.jpg,
// kite.jpg, person.jpg, scream.jpg; licence in /usr/share/doc/darknet/copyright).
inline std::string darknet_photo(const std::string& name) {
  return "/usr/share/darknet/data/" + name;
}

// Relative L2 distance |a - b| / |b|.
inline double rel_l2(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).norm().item<double>() /
         b.to(at::kDouble).norm().item<double>();
}

// The shipped fashion-vgg, canonical.
inline Network shipped_fashion_vgg() {
  return canonize(load_model("fashion-vgg", "", 0).net);
}

// A dense model on 1 x 8 x 8 inputs: flatten, then `weight` (classes x 64) and `bias`
// (undefined: none); the normalisation is the identity (pixel value v is the input v).
inline Network dense_8x8_model(const at::Tensor& weight, const at::Tensor& bias = {}) {
  Network net;
  net.arch = "linear";
  net.in_channels = 1;
  net.default_size = 8;
  net.mean = {0.0};
  net.std = {1.0};
  net.num_classes = weight.size(0);
  Layer f;
  f.kind = LayerKind::Flatten;
  f.name = "flatten";
  Layer d;
  d.kind = LayerKind::Linear;
  d.index = 0;
  d.name = "fc";
  d.in_channels = 64;
  d.out_channels = weight.size(0);
  d.weight = weight;
  d.bias = bias;
  d.has_bias = bias.defined();
  net.layers = {f, d};
  net.finalize();
  net.canonical = true;
  return net;
}

// A node of `kind` named `name` reading `inputs` (empty: the node before it), every other
// attribute at its default.
inline Layer node(LayerKind kind, const std::string& name, std::vector<int> inputs = {}) {
  Layer l;
  l.kind = kind;
  l.name = name;
  l.inputs = std::move(inputs);
  return l;
}

// A seeded random network with small random biases (so bias terms are exercised).
inline Network random_network(const std::string& arch, uint64_t seed) {
  Network net = build_architecture(arch);
  init_random(net, seed);
  at::Generator gen = at::detail::createCPUGenerator(seed + 100);
  for (Layer& l : net.layers)
    if (l.bias.defined()) l.bias = at::empty_like(l.bias).normal_(0.0, 0.01, gen);
  return canonize(net);
}

// The small experiment of the search and fault tests: `count` Fashion-MNIST ankle boots,
// tutorial and decreasing-gamma on 3 x 3 grids, three reference points, three orders, patch 2
// (3 work units per image).
inline std::string small_experiment(int count) {
  return R"TOML(
[model]
name = "fashion-vgg"
[data]
dataset = "fashion-mnist"
class = 9
count = )TOML" + std::to_string(count) + R"TOML(
[[family]]
name = "tutorial"
values = "log(-2,0,2)+0"
[[family]]
name = "decreasing-gamma"
values = [0, 0.1, 1]
[reference]
points = ["tutorial(0.25,0.25)", "decreasing-gamma", "zero"]
[pf]
orders = ["morf", "lrf", "random"]
patch = 2
)TOML";
}

// The message of the InputError that parsing an experiment text ("exp.toml") throws, or
// "(no error)".
inline std::string experiment_error(const std::string& text) {
  try {
    parse_experiment_text(text, "exp.toml");
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

// Runs a shell command; returns its exit code and fills `err` with its stderr.
int run_command(const std::string& cmd, std::string* err);

// Starts `cmd` with a unit trace (LRPBENCH_TRACE_UNITS) and SIGKILLs it once it has begun work
// unit `unit`; returns whether the kill landed while it ran (not after it exited).
bool kill_inside_unit(const std::string& cmd, int64_t unit);

}  // namespace lrpbench::test
