// The TorchScript graph reader (model/torchscript_graph.h), the path `--model FILE.pt` takes
// before anything runs: the archive checks, torch::jit::load, our walk of the compiled graph
// (submodule and function calls, constants, attributes, parameter shapes), then the checks
// every graph network passes (Network::finalize(), model/graph_check.h).
//
// Contract (fuzz.h): only InputError may escape. torch::jit::load's own errors on a mutated
// archive are InputError already (load_torchscript_module maps them to one line naming the
// file, exit 2 in the CLI, as the CLI reports them). The reader's catch-all that turns any
// other exception of the walk into an InputError is compiled out in this target
// (LRPBENCH_FUZZING): a c10::Error or std:: exception from our own walk (an unchecked IValue
// conversion, a missing value) is a finding, not a refusal.
//
// Beyond "no crash": a network that passes finalize() has every node's output non-empty at its
// default size, or its only fault is a dense layer's input features (load_model then searches
// for the input size that fits).
#include <ATen/Parallel.h>
#include <torch/script.h>

#include "fuzz.h"
#include "model/network.h"
#include "model/torchscript_graph.h"

namespace {
// One thread: LibTorch's intra-op pool would otherwise start a thread per core per process.
const bool kOneThread = [] {
  at::set_num_threads(1);
  return true;
}();
}  // namespace

LRPBENCH_FUZZ({
  (void)kOneThread;
  lrpbench::Network net = lrpbench::read_torchscript_graph(input, "fuzz.pt");
  int64_t channels = 0;  // as load_model: the first conv or dense layer's input channels
  for (const lrpbench::Layer& l : net.layers)
    if ((l.kind == lrpbench::LayerKind::Conv2d || l.kind == lrpbench::LayerKind::Linear) &&
        channels == 0)
      channels = l.in_channels;
  if (channels != 1 && channels != 3) return 0;  // load_model refuses it (InputError)
  net.in_channels = channels;
  net.default_size = channels == 1 ? 28 : 224;
  net.finalize();
  const lrpbench::GraphShapes s = net.shapes_at(net.default_size, net.default_size);
  if (s.fault) {  // only a dense layer's input features may be left (to load_model's size search)
    if (s.fault->empty() || !s.features_fault) __builtin_trap();
    return 0;
  }
  if (s.out.size() != net.layers.size()) __builtin_trap();
  for (const lrpbench::ActShape& a : s.out)
    if (a.c < 1 || (a.spatial && (a.h < 1 || a.w < 1))) __builtin_trap();
})
