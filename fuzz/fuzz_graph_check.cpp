// The checks every graph network passes before LibTorch runs it (model/graph_check.h), on
// node lists decoded from the input: what the TorchScript reader (fuzzed whole, LibTorch
// included, by the `torchscript_graph` target), the ONNX reader and the built-in architectures
// hand to Network::finalize(). Beyond "no crash": a graph that
// passes has every output within the bounds, and a dense layer's fault is the only deferred one.
//
// Input: 5 header bytes (channels, height, width as uint16), then one record per node: kind,
// input count, inputs (each byte b reads node i - 1 - b % (i + 1); 255: a dangling position),
// then the attributes in NodeSpec's order as int16 (0x7fff: the next 8 bytes as an int64)
// and the four parameter shapes (rank byte, 0: absent; dims as above). Missing bytes read 0.
#include <cmath>

#include "fuzz.h"
#include "model/graph_check.h"

namespace {

class Reader {
 public:
  explicit Reader(const std::string& s) : s_(s) {}
  bool more() const { return p_ < s_.size(); }
  uint8_t byte() { return p_ < s_.size() ? static_cast<uint8_t>(s_[p_++]) : 0; }
  uint16_t u16() {
    const uint16_t lo = byte();
    return static_cast<uint16_t>(lo | (byte() << 8));
  }
  int64_t value() {
    const auto v = static_cast<int16_t>(u16());
    if (v != 0x7fff) return v;
    uint64_t w = 0;
    for (int k = 0; k < 8; ++k) w |= static_cast<uint64_t>(byte()) << (8 * k);
    return static_cast<int64_t>(w);
  }
  lrpbench::ParamShape param() {
    lrpbench::ParamShape p;
    const int rank = byte() % 6;
    p.defined = rank > 0;
    for (int k = 1; k < rank; ++k) p.dims.push_back(value());
    return p;
  }

 private:
  const std::string& s_;
  size_t p_ = 0;
};

}  // namespace

LRPBENCH_FUZZ({
  using namespace lrpbench;
  Reader r(input);
  ActShape in;
  in.c = r.byte();
  in.h = r.u16();
  in.w = r.u16();
  std::vector<NodeSpec> nodes;
  while (r.more() && nodes.size() < 256) {
    NodeSpec n;
    n.kind = static_cast<LayerKind>(r.byte() % 12);
    n.name = "n" + std::to_string(nodes.size());
    const int count = r.byte() % 4;
    for (int k = 0; k < count; ++k) {
      const uint8_t b = r.byte();
      const int i = static_cast<int>(nodes.size());
      n.inputs.push_back(b == 255 ? i + 1 : i - 1 - b % (i + 1));
    }
    n.in_channels = r.value();
    n.out_channels = r.value();
    n.groups = r.value();
    for (auto* a : {&n.kernel, &n.stride, &n.padding, &n.dilation, &n.output_size})
      for (int64_t& x : *a) x = r.value();
    n.ceil_mode = r.byte() & 1;
    const int64_t clamp = r.value();
    if (clamp != 0) n.clamp_max = clamp == 1 ? std::nan("") : static_cast<double>(clamp);
    n.bn_eps = static_cast<double>(r.value()) * 1e-6;
    const int pads = r.byte() % 6;
    for (int k = 0; k < pads; ++k) n.pad.push_back(r.value());
    n.weight = r.param();
    n.bias = r.param();
    n.running_mean = r.param();
    n.running_var = r.param();
    nodes.push_back(n);
  }
  check_nodes(nodes, "fuzz");
  const GraphShapes g = infer_graph_shapes(nodes, in, "fuzz");
  if (g.fault) {
    if (g.fault->empty()) __builtin_trap();
    return 0;
  }
  if (g.out.size() != nodes.size()) __builtin_trap();
  for (const ActShape& a : g.out) {
    const int64_t values = a.spatial ? a.c * a.h * a.w : a.c;
    if (a.c < 1 || (a.spatial && (a.h < 1 || a.w < 1)) || values > kMaxActivation)
      __builtin_trap();
  }
})
