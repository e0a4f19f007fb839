// The bad-input catalogue: every command, given a missing, empty, truncated, wrong-type or
// hostile file for each file it reads, or an out-of-range number for each numeric option,
// exits 0 or 2 with one line naming the culprit; a write that fails is exit 1 naming the file
// and leaves no partial output behind.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <thread>
#include <tuple>
#include <vector>

#include "helpers.h"
#include "model/safetensors.h"
#include "model/state_dict.h"
#include "search/store.h"
#include "util/npy.h"

#ifdef LRPBENCH_WITH_ONNX
#include <onnx/onnx_pb.h>
#endif

namespace lrpbench {
namespace {

namespace fs = std::filesystem;

std::string dir() {
  static const std::string d = [] {
    const std::string p = ::testing::TempDir() + "/lrpbench_catalogue_" + std::to_string(getpid());
    fs::remove_all(p);
    fs::create_directories(p);
    return p;
  }();
  return d;
}

std::string file(const std::string& name, const std::string& bytes) {
  const std::string path = dir() + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string le64(uint64_t v) {
  return std::string(reinterpret_cast<const char*>(&v), 8);
}

std::string safetensors(const std::string& header) {
  return le64(header.size()) + header + std::string(64, '\0');
}

std::string npy(const std::string& dict, size_t data_bytes) {
  std::string h = dict;
  h.append((64 - (10 + h.size() + 1) % 64) % 64, ' ');
  h += '\n';
  const uint16_t len = static_cast<uint16_t>(h.size());
  return std::string("\x93NUMPY\x01\x00", 8) + std::string(reinterpret_cast<const char*>(&len), 2) +
         h + std::string(data_bytes, '\0');
}

uint32_t crc_dummy() {
  return 0;
}

std::string png_header(uint32_t w, uint32_t h) {
  auto be = [](uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
  };
  std::string ihdr = be(w) + be(h) + std::string("\x08\x02\x00\x00\x00", 5);
  return std::string("\x89PNG\r\n\x1a\n", 8) + be(13) + "IHDR" + ihdr + be(crc_dummy()) + be(0) +
         "IEND" + be(0);
}

struct Case {
  std::string args;    // after the binary
  std::string needle;  // must appear in the one line on stderr
  int code = 2;
};

void expect_case(const Case& c) {
  std::string err;
  const int code = test::run_command("cd " + dir() + " && " + test::binary() + " " + c.args, &err);
  EXPECT_EQ(code, c.code) << c.args << "\n" << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << c.args << "\n" << err;
  EXPECT_NE(err.find(c.needle), std::string::npos) << c.args << "\n" << err;
  EXPECT_EQ(err.find("internal error"), std::string::npos) << c.args << "\n" << err;
}

const std::string kIn = " --dataset fashion-mnist --index 0 --out " + std::string("out");

TEST(Catalogue, WeightFiles) {
  const std::string good = slurp(test::source_dir() + "/models/fashion-vgg.safetensors");
  const std::vector<std::pair<std::string, std::string>> files = {
      {"missing.safetensors", ""},  // not created
      {"empty.safetensors", "\x01"},
      {"truncated.safetensors", good.substr(0, good.size() / 2)},
      {"photo.safetensors", slurp(test::darknet_photo("dog.jpg"))},
      {"negative.safetensors",
       safetensors(R"({"features.0.weight":{"dtype":"F32","shape":[-16,1,3,3],"data_offsets":[0,64]}})")},
      {"huge.safetensors",
       safetensors(
           R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,64]}})")},
      {"overflow.safetensors",
       safetensors(R"({"a":{"dtype":"F32","shape":[9223372036854775807,4],"data_offsets":[0,64]}})")},
      {"overlap.safetensors",
       safetensors(R"({"a":{"dtype":"F32","shape":[8],"data_offsets":[0,32]},)"
                   R"("b":{"dtype":"F32","shape":[8],"data_offsets":[16,48]}})")},
      {"fractional.safetensors",
       safetensors(R"({"a":{"dtype":"F32","shape":[8],"data_offsets":[0.5,32.5]}})")},
      {"duplicate.safetensors",
       safetensors(R"({"a":{"dtype":"F32","shape":[8],"data_offsets":[0,32]},)"
                   R"("a":{"dtype":"F32","shape":[8],"data_offsets":[32,64]}})")},
      {"zip.pth", std::string("PK\x03\x04", 4) + std::string(100, 'x')},
      {"legacy.pth", std::string("\x80\x02\x8a\x0a", 4) + std::string(100, 'x')},
  };
  for (const auto& [name, bytes] : files) {
    if (name != "missing.safetensors") file(name, name == "empty.safetensors" ? "" : bytes);
    for (const char* cmd : {"explain", "evaluate --composite tutorial"})
      expect_case({std::string(cmd) + " --weights " + name + kIn, name});
    expect_case({"classify --dataset fashion-mnist --index 0 --weights " + name, name});
  }
  expect_case({"explain --weights " + dir() + kIn, "not a regular file"});
  // Real PyTorch archives of another model (written by fuzz/make_corpus.py with torch): a
  // TorchScript module, a state dict, a truncated module; each names the file and its fault.
  const std::string corpus = test::source_dir() + "/fuzz/corpus/";
  expect_case({"explain --weights " + corpus + "torchscript/script.pt" + kIn, "script.pt"});
  expect_case({"explain --weights " + corpus + "torchscript/truncated.pt" + kIn, "truncated.pt"});
  expect_case({"explain --weights " + corpus + "pth/ordered.pth" + kIn, "ordered.pth"});
  expect_case({"explain --weights " + corpus + "pth/view.pth" + kIn, "view.pth"});
}

// The unedited file of a graph case runs (so each case's refusal is its one lie's).
void expect_valid(const std::string& args) {
  std::string err;
  EXPECT_EQ(test::run_command("cd " + dir() + " && " + test::binary() + " " + args, &err), 0)
      << args << "\n" << err;
}

// Hostile graph files (--model FILE): each is a valid small model with one lie, refused with
// exit code 2 and one line naming the file and the node or attribute at fault.
#ifdef LRPBENCH_WITH_ONNX
// A valid 1 x 28 x 28 classifier: conv (4 channels, 3x3, pads 1) -> relu -> maxpool 2 ->
// flatten -> gemm (784 -> 10). Cases edit it through the accessors below.
struct OnnxModel {
  onnx::ModelProto m;
  OnnxModel() {
    m.set_ir_version(8);
    m.add_opset_import()->set_version(13);
    onnx::GraphProto* g = m.mutable_graph();
    g->set_name("g");
    input(g->add_input(), "x", {1, 1, 28, 28});
    input(g->add_output(), "y", {1, 10});
    init("W", {4, 1, 3, 3});
    init("B", {4});
    init("W2", {10, 784});
    init("B2", {10});
    node("Conv", "conv", {"x", "W", "B"}, "c")->add_attribute()->CopyFrom(ints_attr("pads", {1, 1, 1, 1}));
    node("Relu", "relu", {"c"}, "r");
    onnx::NodeProto* p = node("MaxPool", "pool", {"r"}, "p");
    p->add_attribute()->CopyFrom(ints_attr("kernel_shape", {2, 2}));
    p->add_attribute()->CopyFrom(ints_attr("strides", {2, 2}));
    node("Flatten", "flatten", {"p"}, "f");
    node("Gemm", "fc", {"f", "W2", "B2"}, "y")->add_attribute()->CopyFrom(int_attr("transB", 1));
  }
  static void input(onnx::ValueInfoProto* v, const std::string& name, std::vector<int64_t> dims) {
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
  }
  static onnx::AttributeProto ints_attr(const std::string& name, std::vector<int64_t> v) {
    onnx::AttributeProto a;
    a.set_name(name);
    a.set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a.add_ints(x);
    return a;
  }
  static onnx::AttributeProto int_attr(const std::string& name, int64_t v) {
    onnx::AttributeProto a;
    a.set_name(name);
    a.set_type(onnx::AttributeProto::INT);
    a.set_i(v);
    return a;
  }
  onnx::TensorProto* init(const std::string& name, std::vector<int64_t> dims, float value = 0.01f) {
    onnx::TensorProto* t = nullptr;
    for (auto& i : *m.mutable_graph()->mutable_initializer())
      if (i.name() == name) t = &i;
    if (!t) t = m.mutable_graph()->add_initializer();
    t->Clear();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    int64_t n = 1;
    for (int64_t d : dims) {
      t->add_dims(d);
      n *= d;
    }
    for (int64_t i = 0; i < n; ++i) t->add_float_data(value);
    return t;
  }
  onnx::NodeProto* node(const std::string& op, const std::string& name,
                        std::vector<std::string> in, const std::string& out) {
    onnx::NodeProto* n = m.mutable_graph()->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (const auto& i : in) n->add_input(i);
    n->add_output(out);
    return n;
  }
  onnx::NodeProto& at(const std::string& name) {
    for (auto& n : *m.mutable_graph()->mutable_node())
      if (n.name() == name) return n;
    throw std::logic_error("no node " + name);
  }
  // Sets (or adds) an attribute of node `name`.
  void set(const std::string& name, const onnx::AttributeProto& a) {
    for (auto& x : *at(name).mutable_attribute())
      if (x.name() == a.name()) {
        x.CopyFrom(a);
        return;
      }
    at(name).add_attribute()->CopyFrom(a);
  }
  std::string bytes() const { return m.SerializeAsString(); }
};

TEST(Catalogue, GraphFilesOnnx) {
  using Edit = std::function<void(OnnxModel&)>;
  using A = OnnxModel;
  const std::vector<std::tuple<std::string, Edit, std::string>> cases = {
      {"conv_stride0", [](A& o) { o.set("conv", A::ints_attr("strides", {0, 1})); }, "stride 0x1"},
      {"conv_kernel_shape_lies",  // the weights are 3 x 3
       [](A& o) { o.set("conv", A::ints_attr("kernel_shape", {5, 5})); },
       "declares kernel_shape [5, 5] for weights of 3 x 3"},
      {"conv_kernel_shape_huge",
       [](A& o) { o.set("conv", A::ints_attr("kernel_shape", {int64_t{1} << 40, int64_t{1} << 40})); },
       "for weights of 3 x 3"},
      {"output_assigned_twice",  // a second producer of 'r' (ONNX assigns each name once)
       [](A& o) {
         o.node("Relu", "again", {"c"}, "r");
         auto* nodes = o.m.mutable_graph()->mutable_node();
         for (int i = nodes->size() - 1; i > 2; --i) nodes->SwapElements(i, i - 1);  // before the pool
       },
       "node 'again' computes 'r', which an initializer, the input or an earlier node already "
       "names"},
      {"bn_negative_variance",  // finite, but its square root is not real
       [](A& o) {
         for (const char* p : {"S", "Z", "M"}) o.init(p, {4}, 0.0f);
         o.init("V", {4}, -1.0f);
         o.node("BatchNormalization", "bn", {"c", "S", "Z", "M", "V"}, "b");
         auto* nodes = o.m.mutable_graph()->mutable_node();
         for (int i = nodes->size() - 1; i > 1; --i) nodes->SwapElements(i, i - 1);  // after the conv
         o.at("relu").set_input(0, "b");
       },
       "BatchNorm 'batchnormalization_0' has a running variance of at most -eps"},
      {"pool_stride0", [](A& o) { o.set("pool", A::ints_attr("strides", {0, 0})); }, "stride 0x0"},
      {"conv_dilation0", [](A& o) { o.set("conv", A::ints_attr("dilations", {1, 0})); }, "dilation"},
      {"conv_negative_pads", [](A& o) { o.set("conv", A::ints_attr("pads", {-1, -1, -1, -1})); }, "padding -1x-1"},
      {"conv_huge_pads", [](A& o) { o.set("conv", A::ints_attr("pads", {1 << 30, 1, 1 << 30, 1})); }, "padding"},
      {"conv_groups3", [](A& o) { o.set("conv", A::int_attr("group", 3)); }, "groups"},
      {"conv_groups0", [](A& o) { o.set("conv", A::int_attr("group", 0)); }, "0 groups"},
      {"conv_groups_huge", [](A& o) { o.set("conv", A::int_attr("group", int64_t{1} << 62)); }, "groups"},
      {"conv_bias5", [](A& o) { o.init("B", {5}); }, "bias of shape [5]"},
      {"conv_bias2d", [](A& o) { o.init("B", {2, 2}); }, "'B' of node 'conv'"},
      {"conv_weight3d", [](A& o) { o.init("W", {4, 1, 9}); }, "'W' of node 'conv'"},
      {"conv_kernel_too_large", [](A& o) { o.init("W", {4, 1, 40, 40}); }, "larger than its input"},
      {"conv_enormous_channels", [](A& o) { o.init("W", {1 << 17, 1, 1, 1}); o.init("B", {1 << 17}); }, "values per image"},
      {"conv_int_weight",
       [](A& o) {
         onnx::TensorProto* t = o.init("W", {4, 1, 3, 3});
         t->clear_float_data();
         t->set_data_type(onnx::TensorProto::INT64);
         for (int i = 0; i < 36; ++i) t->add_int64_data(1);
       },
       "parameter 'W' of node 'conv' (Conv) holds integers"},
      {"conv_int8_weight", [](A& o) { o.init("W", {4, 1, 3, 3})->set_data_type(onnx::TensorProto::INT8); }, "data type 3"},
      {"conv_nan_weight", [](A& o) { o.init("W", {4, 1, 3, 3}, std::nanf("")); }, "'W' of node 'conv' (Conv) holds NaN"},
      {"conv_inf_bias", [](A& o) { o.init("B", {4}, INFINITY); }, "'B' of node 'conv' (Conv) holds NaN"},
      {"conv_float_pads",
       [](A& o) {
         onnx::AttributeProto a;
         a.set_name("pads");
         a.set_type(onnx::AttributeProto::FLOATS);
         for (int i = 0; i < 4; ++i) a.add_floats(1.0f);
         o.set("conv", a);
       },
       "attribute 'pads' of type FLOATS"},
      {"conv_one_input", [](A& o) { o.at("conv").mutable_input()->RemoveLast(); o.at("conv").mutable_input()->RemoveLast(); }, "'conv' (Conv) has 1 inputs"},
      {"relu_no_output", [](A& o) { o.at("relu").clear_output(); }, "'relu' (Relu) has 1 inputs and 0 outputs"},
      {"gemm_no_input", [](A& o) { o.at("fc").clear_input(); }, "'fc' (Gemm) has 0 inputs"},
      {"gemm_features", [](A& o) { o.init("W2", {10, 783}); }, "expects 783 input features"},
      {"gemm_bias", [](A& o) { o.init("B2", {11}); }, "bias of shape [11]"},
      {"gemm_weight1d", [](A& o) { o.init("W2", {7840}); }, "'W2' of node 'fc'"},
      {"pool_kernel0", [](A& o) { o.set("pool", A::ints_attr("kernel_shape", {0, 2})); }, "kernel 0x2"},
      {"pool_kernel_too_large", [](A& o) { o.set("pool", A::ints_attr("kernel_shape", {30, 30})); }, "larger than its input"},
      {"pool_pads_over_half", [](A& o) { o.set("pool", A::ints_attr("pads", {2, 2, 2, 2})); }, "over half its kernel"},
      {"pool_strides_floats",
       [](A& o) {
         onnx::AttributeProto a;
         a.set_name("strides");
         a.set_type(onnx::AttributeProto::FLOATS);
         a.add_floats(2.0f);
         a.add_floats(2.0f);
         o.set("pool", a);
       },
       "attribute 'strides' of type FLOATS"},
      {"huge_initializer",
       [](A& o) {
         onnx::TensorProto* t = o.m.mutable_graph()->add_initializer();
         t->set_name("big");
         t->set_data_type(onnx::TensorProto::FLOAT);
         for (int i = 0; i < 3; ++i) t->add_dims(1 << 12);
       },
       "tensor 'big'"},
      {"huge_constant",
       [](A& o) {
         onnx::NodeProto* n = o.node("Constant", "const", {}, "k");
         onnx::AttributeProto* a = n->add_attribute();
         a->set_name("value");
         a->set_type(onnx::AttributeProto::TENSOR);
         a->mutable_t()->set_data_type(onnx::TensorProto::FLOAT);
         for (int i = 0; i < 4; ++i) a->mutable_t()->add_dims(1 << 10);
         a->mutable_t()->set_raw_data(std::string(16, '\0'));
         o.m.mutable_graph()->mutable_node()->SwapElements(0, o.m.graph().node_size() - 1);
       },
       "value of node 'const' has shape [1024, 1024, 1024, 1024]"},
      {"reshape_not_flat",
       [](A& o) {
         o.at("flatten").set_op_type("Reshape");
         onnx::TensorProto* t = o.m.mutable_graph()->add_initializer();
         t->set_name("shape");
         t->set_data_type(onnx::TensorProto::INT64);
         t->add_dims(2);
         t->add_int64_data(1);
         t->add_int64_data(7);
         o.at("flatten").add_input("shape");
       },
       "Reshape to a shape other than (N, -1)"},
      {"reshape_float_shape",
       [](A& o) {
         o.at("flatten").set_op_type("Reshape");
         o.init("shape", {2}, -1.0f);
         o.at("flatten").add_input("shape");
       },
       "'shape' is not a short list of int64' in node 'flatten'"},
      {"input_3_channels",
       [](A& o) {
         o.m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()
             ->mutable_shape()->mutable_dim(1)->set_dim_value(3);
       },
       "expects 1 input channels"},
      {"input_huge",
       [](A& o) {
         auto* s = o.m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()
                       ->mutable_shape();
         s->mutable_dim(2)->set_dim_value(int64_t{1} << 40);
         s->mutable_dim(3)->set_dim_value(int64_t{1} << 40);
       },
       "square images of 8x8 to"},
      {"input_declared_32",  // the dense layer needs 28 x 28: the declared size is kept
       [](A& o) {
         auto* s = o.m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()
                       ->mutable_shape();
         s->mutable_dim(2)->set_dim_value(32);
         s->mutable_dim(3)->set_dim_value(32);
       },
       "'gemm_0' (linear) expects 784 input features, gets 1024 features"},
      {"input_half_fixed",  // a free width takes the fixed height: 32 x 32, kept
       [](A& o) {
         auto* s = o.m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()
                       ->mutable_shape();
         s->mutable_dim(2)->set_dim_value(32);
         s->mutable_dim(3)->set_dim_param("W");
       },
       "'gemm_0' (linear) expects 784 input features, gets 1024 features"},
      {"add_shapes_differ",
       [](A& o) {
         o.init("W3", {2, 4, 1, 1});
         o.node("Conv", "narrow", {"r"}, "n")->add_input("W3");
         o.node("Add", "sum", {"r", "n"}, "s");
         o.at("pool").set_input(0, "s");
         auto* nodes = o.m.mutable_graph()->mutable_node();  // run them before the pool
         for (int k = 0; k < 2; ++k)
           for (int i = nodes->size() - 1; i > 2; --i) nodes->SwapElements(i, i - 1);
       },
       "'add_0' (add) adds 4x28x28 and 2x28x28"},
      {"pad_huge",
       [](A& o) {
         o.node("Pad", "pad", {"r", "pads"}, "q");
         onnx::TensorProto* t = o.m.mutable_graph()->add_initializer();
         t->set_name("pads");
         t->set_data_type(onnx::TensorProto::INT64);
         t->add_dims(8);
         for (int64_t v : {0, 0, 1 << 30, 1 << 30, 0, 0, 1 << 30, 1 << 30}) t->add_int64_data(v);
         o.at("pool").set_input(0, "q");
         auto* nodes = o.m.mutable_graph()->mutable_node();
         for (int i = nodes->size() - 1; i > 2; --i) nodes->SwapElements(i, i - 1);
       },
       "'pad_0' (pad) pads by [1073741824"},
      {"clip_two_bounds",
       [](A& o) {
         o.at("relu").set_op_type("Clip");
         o.init("lo", {2}, 0.0f);
         o.at("relu").add_input("lo");
       },
       "not one number"},
      {"clip_negative_max",
       [](A& o) {
         o.at("relu").set_op_type("Clip");
         o.init("lo", {}, 0.0f);
         o.init("hi", {}, -1.0f);
         o.at("relu").add_input("lo");
         o.at("relu").add_input("hi");
       },
       "clamps at"},
      {"auto_pad_int", [](A& o) { o.set("conv", A::int_attr("auto_pad", 1)); }, "attribute 'auto_pad' of type INT"},
  };
  const std::string base = file("base.onnx", OnnxModel().bytes());
  expect_valid("classify --dataset fashion-mnist --index 0 --model " + base);
  for (const auto& [name, edit, needle] : cases) {
    OnnxModel o;
    edit(o);
    const std::string path = file(name + ".onnx", o.bytes());
    expect_case({"explain --model " + path + kIn, name + ".onnx: "});
    expect_case({"classify --dataset fashion-mnist --index 0 --model " + path, needle});
  }
  // The input size the file fixes: another one is named with both sizes.
  write_npy(dir() + "/x32.npy", at::zeros({1, 1, 32, 32}));
  expect_case({"explain --model base.onnx --input x32.npy --out out", "expects 28x28 inputs, got 32x32"});
  // Finite files whose logits overflow float32: no NaN explanation, score or class (exit 0 before).
  write_npy(dir() + "/huge.npy", at::full({1, 1, 28, 28}, 1e38f));
  const std::string nan_logits = "the logits are not finite";
  expect_case({"explain --input huge.npy --out out", nan_logits});  // fashion-vgg
  expect_case({"classify --input huge.npy", nan_logits});
  // Weights of 3e38: finite, but the first conv's sums overflow on every image.
  OnnxModel overflowing;
  overflowing.init("W", {4, 1, 3, 3}, 3e38f);
  file("overflow.onnx", overflowing.bytes());
  expect_case({"classify --dataset fashion-mnist --index 0 --model overflow.onnx", nan_logits});
  expect_case({"evaluate --dataset fashion-mnist --index 0 --model overflow.onnx --composite zero "
               "--out out",
               nan_logits});
  file("nan_search.toml", "[model]\nfile = \"overflow.onnx\"\n[data]\n"
                          "dataset = \"fashion-mnist\"\nclass = 9\ncount = 1\n[[family]]\nname = "
                          "\"tutorial\"\nvalues = [0]\n");
  expect_case({"search nan_search.toml --out run_nan", nan_logits});
  EXPECT_FALSE(fs::exists(dir() + "/run_nan")) << "a refused search left its run folder";
  // A std so small that the box rules' pixel bounds leave float32 (NaN relevance, exit 0, with
  // --input before), and numbers past the bound named as such.
  write_npy(dir() + "/x28.npy", at::rand({1, 1, 28, 28}));
  expect_case({"explain --model base.onnx --normalize 0.5:1e-40 --input x28.npy --composite "
               "epsilon-gamma-box --out out",
               "--normalize: a std must be at least 1e-6, got '0.5:1e-40'"});
  expect_case({"classify --dataset fashion-mnist --index 0 --model base.onnx --normalize 1e30:1",
               "'1e30' is not a number from -1e6 to 1e6"});
  expect_valid("classify --dataset fashion-mnist --index 0 --model base.onnx --normalize 0.5:1e-6");
}
#endif

// TorchScript modules with one lie each (fuzz/make_corpus.py writes them with torch).
TEST(Catalogue, GraphFilesTorchScript) {
  const std::string ts = test::source_dir() + "/fuzz/corpus/torchscript/";
  expect_valid("classify --dataset fashion-mnist --index 0 --model " + ts + "graph_valid.pt");
  // its own one-argument function named dropout: followed, not read as torch's four arguments
  expect_valid("classify --dataset fashion-mnist --index 0 --model " + ts + "graph_user_dropout.pt");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"graph_stride0.pt", "(conv) has stride 0x1"},
      {"graph_pool_stride0.pt", "(maxpool) has stride 0x0"},
      {"graph_nan.pt", "parameter '0.weight' of node '0' holds NaN or infinite values"},
      {"graph_inf_bias.pt", "parameter '5.bias' of node '5' holds NaN or infinite values"},
      {"graph_bias_length.pt", "(conv) has a bias of shape [5] for 2 channels"},
      {"graph_groups.pt", "3 groups, which do not divide"},
      {"graph_kernel.pt", "has a kernel of 40x40 (dilation 1) larger than its input"},
      {"graph_linear_features.pt", "expects 7 input features, gets 2 features (2 values); no square input"},
      {"graph_int_weight.pt", "parameter '0.weight' of node '0' has dtype Long"},
      {"graph_weight_rank.pt", "parameter '0.weight' of node '0' has 2 dimensions (4 expected)"},
      {"graph_expanded.pt", "has shape [1073741824, 1, 3, 3]"},
      {"graph_expanded_small.pt", "has shape [65536, 1, 3, 3] but stores 9 values"},
  };
  for (const auto& [name, needle] : cases) {
    expect_case({"explain --model " + ts + name + kIn, name + ": "});
    expect_case({"classify --dataset fashion-mnist --index 0 --model " + ts + name, needle});
  }
}

// Leaf modules of the model's own named like torch.nn's (fuzz/make_corpus.py): followed into
// their graphs, not read by type. A "ReLU" that doubles is no ReLU (its aten::mul is refused);
// a "MaxPool2d" without torch's other settings calling max_pool2d is a valid max-pool (read by
// type it lacked `stride`, and LibTorch's error refused the file).
TEST(Catalogue, GraphFilesTorchScriptOwnLeaves) {
  const std::string tg = test::source_dir() + "/fuzz/corpus/torchscript_graph/";
  expect_valid("classify --dataset fashion-mnist --index 0 --model " + tg + "user_maxpool.pt");
  expect_case({"classify --dataset fashion-mnist --index 0 --model " + tg + "user_relu.pt",
               "unsupported operation 'aten::mul' in node '2.0'"});
}

// A class of the module's code assigning an attribute without a type (`__paramnters__ = []`):
// refused before LibTorch, whose error path for it reads memory it does not own (a SEGV under
// AddressSanitizer, found by fuzz_torchscript_graph).
TEST(Catalogue, GraphFilesTorchScriptUnannotatedConstant) {
  const std::string tg = test::source_dir() + "/fuzz/corpus/torchscript_graph/";
  expect_case({"classify --dataset fashion-mnist --index 0 --model " + tg + "unannotated_constant.pt",
               "line 2 assigns the class attribute '__paramnters__' without a type"});
}

// Model and weights files that are not regular files (a FIFO would block a reader forever).
TEST(Catalogue, GraphFilesNotRegular) {
  const std::string fifo = dir() + "/model.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const char* option : {"--model", "--weights"}) {  // `timeout`: a wait fails, not hangs
    std::string err;
    const int code = test::run_command("cd " + dir() + " && timeout 60 " + test::binary() +
                                           " explain " + option + " " + fifo + kIn, &err);
    EXPECT_EQ(code, 2) << option << "\n" << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_NE(err.find("model.fifo' is not a regular file"), std::string::npos) << err;
  }
  expect_case({"explain --model " + dir() + "/" + kIn, "not a regular file"});
  expect_case({"classify --dataset fashion-mnist --index 0 --model /dev/zero", "/dev/zero"});
}

TEST(Catalogue, FashionMnistFiles) {
  // LRPBENCH_FASHION_MNIST points the data set at a folder of hostile idx files.
  const std::string data = dir() + "/fmnist";
  fs::create_directories(data);
  const std::string images = data + "/t10k-images-idx3-ubyte.gz";
  const std::string labels = data + "/t10k-labels-idx1-ubyte.gz";
  const std::string run = "LRPBENCH_FASHION_MNIST=" + data + " " + test::binary() +
                          " explain --dataset fashion-mnist --index 0 --out out";
  auto expect = [&](const std::string& needle) {
    std::string err;
    EXPECT_EQ(test::run_command(run, &err), 2) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_NE(err.find(needle), std::string::npos) << err;
  };
  expect("t10k-images-idx3-ubyte.gz");  // missing
  std::ofstream(images) << "not gzip data at all";
  std::ofstream(labels) << "not gzip data at all";
  expect("t10k-images-idx3-ubyte.gz");
  // A gzip stream cut in half.
  const std::string real = slurp("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz");
  std::ofstream(images, std::ios::binary) << real.substr(0, real.size() / 2);
  expect("t10k-images-idx3-ubyte.gz");
}

TEST(Catalogue, ImageFiles) {
  const std::string jpg = slurp(test::darknet_photo("dog.jpg"));
  const std::vector<std::pair<std::string, std::string>> files = {
      {"empty.jpg", ""},
      {"truncated.jpg", jpg.substr(0, jpg.size() / 2)},
      {"text.png", "not an image at all\n"},
      {"giant.png", png_header(100000, 100000)},
      {"zero.png", png_header(0, 10)},
      {"noiend.png", png_header(10, 10).substr(0, 33)},
  };
  for (const auto& [name, bytes] : files) {
    file(name, bytes);
    expect_case({"explain --image " + name + " --out out", name});
  }
  expect_case({"explain --image missing.jpg --out out", "missing.jpg"});
  expect_case({"explain --image /dev/zero --out out", "/dev/zero"});
}

TEST(Catalogue, NpyInputsAndRelevance) {
  const std::vector<std::pair<std::string, std::string>> files = {
      {"empty.npy", ""},
      {"negative.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 28, 28), }", 0)},
      {"huge.npy",
       npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }", 0)},
      {"overflow.npy",
       npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", 0)},
      {"n0.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 1, 28, 28), }", 0)},
      {"truncated.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 28, 28), }", 100)},
      {"int.npy", npy("{'descr': '<i8', 'fortran_order': False, 'shape': (1, 28, 28), }", 784 * 8)},
      {"photo.npy", slurp(test::darknet_photo("dog.jpg"))},
      // A key holding a newline (found by fuzzing): still one line on stderr.
      {"newline.npy", npy("{'descr': '<f4', 'for\n\x19tran_order': False, 'shape': (1,), }", 4)},
  };
  for (const auto& [name, bytes] : files) {
    file(name, bytes);
    expect_case({"explain --input " + name + " --out out", name});
    expect_case({"evaluate --relevance " + name + kIn, name});
  }
  write_npy(dir() + "/nan.npy", at::full({1, 28, 28}, NAN));
  expect_case({"evaluate --relevance nan.npy" + kIn, "NaN"});
  expect_case({"explain --input nan.npy --out out", "NaN"});
}

TEST(Catalogue, ExperimentFiles) {
  const std::string base =
      "[data]\ndataset = \"fashion-mnist\"\nclass = 9\ncount = 2\n[[family]]\nname = "
      "\"tutorial\"\n";
  std::string list = "[";
  for (int i = 0; i < 3000; ++i) list += (i ? "," : "") + std::to_string(i * 1e-4);
  list += "]";
  const std::vector<std::pair<std::string, std::string>> files = {
      {"empty.toml", ""},
      {"truncated.toml", base.substr(0, 30)},
      {"photo.toml", slurp(test::darknet_photo("dog.jpg"))},
      {"grid.toml", base + "values = " + list + "\n"},
      {"both.toml", base + "values = [0, 1]\nvalues1 = [0, 1]\n"},
      {"orders.toml", base + "[pf]\norders = []\n"},
      {"seed.toml", base + "[run]\nseed = -1\n"},
      {"batch.toml", base + "[run]\nbatch = 100000\n"},
      {"class.toml", "[data]\ndataset = \"fashion-mnist\"\nclass = -5\n[[family]]\nname = \"tutorial\"\n"},
      {"target.toml", base + "[data.x]\n"},
      {"count.toml", "[data]\ndataset = \"fashion-mnist\"\nclass = 9\ncount = 5000\n[[family]]\nname = \"tutorial\"\n"},
  };
  for (const auto& [name, bytes] : files) {
    file(name, bytes);
    expect_case({"search " + name + " --out run_" + name, name});
    EXPECT_FALSE(fs::exists(dir() + "/run_" + name + "/results.sqlite")) << name;
  }
  expect_case({"search missing.toml --out run_missing", "missing.toml"});
  expect_case({"search /dev/zero --out run_zero", "/dev/zero"});
  expect_case({"search " + dir() + " --out run_dir", "not a regular file"});
}

TEST(Catalogue, LabelFiles) {
  fs::create_directories(dir() + "/flat");
  fs::copy_file(test::darknet_photo("dog.jpg"), dir() + "/flat/dog.jpg",
                fs::copy_options::overwrite_existing);
  file("labels.toml",
       "[data]\nfolder = \"flat\"\nlabels = \"labels.csv\"\n[[family]]\nname = \"tutorial\"\n");
  for (const std::string& csv :
       {std::string("ImageId,PredictionString\ndog,n99999999 1 2 3 4\n"),
        std::string("ImageId,PredictionString\nno comma here\n"), std::string("\x01\x02\x00\x03", 4),
        std::string("ImageId,PredictionString\ndog,n01632777 1 2 3 4\ndog,n02980441 1 2 3\n")}) {
    file("labels.csv", csv);
    expect_case({"search labels.toml --out run_labels", "labels.csv"});
  }
  fs::remove(dir() + "/labels.csv");
  expect_case({"search labels.toml --out run_labels", "labels.csv"});
}

TEST(Catalogue, OddPaths) {
  // A folder where the store should be: refused naming it, not an internal error.
  file("odd.toml", test::small_experiment(1));
  fs::create_directories(dir() + "/odd_run/results.sqlite");
  expect_case({"search odd.toml --out odd_run", "odd_run/results.sqlite"});
  // An output folder whose name holds a quote: the figures are still drawn.
  std::string err;
  const std::string out = dir() + "/it's";
  EXPECT_EQ(test::run_command(test::binary() +
                                  " evaluate --dataset fashion-mnist --index 0 --composite tutorial "
                                  "--out \"" + out + "\"",
                              &err),
            0)
      << err;
  EXPECT_TRUE(fs::exists(out + "/curve.png"));
}

TEST(Catalogue, NumericOptionsAreRangeChecked) {
  const std::vector<Case> cases = {
      {"explain --threads 0" + kIn, "--threads"},
      {"explain --threads 100000" + kIn, "--threads"},
      {"explain --threads -1" + kIn, "--threads"},
      {"explain --seed -1" + kIn, "--seed"},
      {"explain --seed 18446744073709551616" + kIn, "--seed"},
      {"explain --seed 9223372036854775808" + kIn, "--seed"},
      {"explain --batch 99999999999999999999" + kIn, "--batch"},
      {"explain --batch 0" + kIn, "--batch"},
      {"evaluate --composite tutorial --patch 0" + kIn, "--patch"},
      {"evaluate --composite tutorial --radius 0" + kIn, "--radius"},
      {"evaluate --composite tutorial --radius 3.5" + kIn, "--radius"},
      {"train --limit -5 --out m.safetensors", "--limit"},
      {"train --lr nan --out m.safetensors", "--lr"},
      {"train --lr inf --out m.safetensors", "--lr"},
      {"train --epochs 0 --out m.safetensors", "--epochs"},
      {"explain --dataset fashion-mnist --index -1 --out out", "--index"},
      {"explain --dataset fashion-mnist --index 1 --indices 2-3 --out out", "--index"},
      {"explain --dataset fashion-mnist --indices 0-999999999 --out out", "--indices"},
      {"explain --dataset fashion-mnist --index 99999999999999999999 --out out", "--index"},
      {"explain --dataset fashion-mnist --index 0 --target 99999999999999999999 --out out",
       "--target"},
      {"classify --top 0" + kIn, "--top"},
      {"search --preset fashion-thesis --out r --max-units -1", "--max-units"},
      {"report . --threads 5000", "--threads"},
  };
  for (const Case& c : cases) expect_case(c);
}

// Metric options are checked against the image they meet, before any work, in evaluate and
// in search (a search leaves no store and no run folder behind).
TEST(Catalogue, MetricOptionsMeetTheImage) {
  const std::string eval = "evaluate --composite tutorial" + kIn + " --metrics ";
  std::string fractions;
  for (int i = 1; i <= 10001; ++i) fractions += (i > 1 ? "," : "") + std::to_string(i / 10002.0);
  write_npy(dir() + "/mask_nan.npy", at::full({28, 28}, NAN));
  write_npy(dir() + "/mask_small.npy", at::ones({1, 1}));
  write_npy(dir() + "/mask_wide.npy", at::ones({28, 29}));
  const std::vector<Case> cases = {
      {eval + "faithfulness-correlation --fc-subset 785", "--fc-subset"},
      {eval + "irof --irof-region 60", "--irof-region"},  // SIGSEGV in OpenCV's SLIC before
      {eval + "irof --irof-region 29", "--irof-region"},
      {eval + "road-morf --road-fractions " + fractions, "--road-fractions"},
      {eval + "relevance-mass --mask mask_nan.npy", "NaN"},
      {eval + "relevance-mass --mask mask_small.npy", "mask_small.npy"},
      {eval + "relevance-mass --mask mask_wide.npy", "mask_wide.npy"},
      {"evaluate --composite tutorial" + kIn + " --metrics ''", "--metrics"},
      {"explain --normalize ''" + kIn, "--normalize"},
      {"search --preset fashion-thesis --model fashion-vgg --normalize '' --out run_norm",
       "--normalize"},
  };
  for (const Case& c : cases) expect_case(c);
  // The largest region inside the range works: one superpixel on 28 x 28.
  std::string err;
  EXPECT_EQ(test::run_command("cd " + dir() + " && " + test::binary() + " " + eval +
                                  "irof --irof-region 28",
                              &err),
            0)
      << err;
  const std::string base =
      "[data]\ndataset = \"fashion-mnist\"\nclass = 9\ncount = 2\n[[family]]\nname = "
      "\"tutorial\"\nvalues = [0, 1]\n[pf]\npatch = 2\n";
  for (const auto& [name, body, needle] : std::vector<std::array<std::string, 3>>{
           {"exp_fc.toml",
            base + "[metrics]\nlist = [\"pf-morf\", \"faithfulness-correlation\"]\n"
                   "fc_subset = 785\n",
            "fc_subset"},
           {"exp_irof.toml",
            base + "[metrics]\nlist = [\"pf-morf\", \"irof\"]\nirof_region = 60\n",
            "irof_region"},
           {"exp_objective.toml", base + "[search]\nobjective = \"\"\n", "search.objective"},
           {"exp_weights.toml", "[model]\nweights = \"\"\n" + base, "model.weights"}}) {
    file(name, body);
    expect_case({"search " + name + " --out run_" + name, needle});
    EXPECT_FALSE(fs::exists(dir() + "/run_" + name)) << name;
  }
}

// A search whose space or data cannot mean what it says is refused before any store exists:
// built-in families (discrete axes) under CMA-ES or NSGA-II, a 3-channel model on the
// 1-channel Fashion-MNIST, a family named like the store's own units, a shard count that
// overflows.
TEST(Catalogue, SearchRefusesMeaninglessSpaces) {
  const std::string data = "[data]\ndataset = \"fashion-mnist\"\nclass = 9\ncount = 2\n";
  const std::string tutorial = "[[family]]\nname = \"tutorial\"\nvalues = [0, 0.1, 1]\n";
  // A random ResNet-18 (3 channels); its weights file is named by the experiment.
  Network r18 = build_architecture("resnet18");
  init_random(r18, 0);
  write_safetensors(dir() + "/r18.safetensors", state_dict_of(r18));
  for (const auto& [name, body, needle] : std::vector<std::array<std::string, 3>>{
           {"cmaes.toml", data + tutorial + "[search]\nstrategy = \"cmaes\"\n",
            "family 'tutorial': strategy cmaes"},
           {"nsga2.toml",
            data + "[[family]]\nname = \"decreasing-gamma\"\n[metrics]\nlist = [\"pf-morf\", "
                   "\"sparseness\"]\n[search]\nstrategy = \"nsga2\"\nobjectives = [\"pf-morf\", "
                   "\"sparseness\"]\n",
            "family 'decreasing-gamma': strategy nsga2"},
           {"channels.toml",
            "[model]\nname = \"resnet18\"\nweights = \"r18.safetensors\"\n" + data + tutorial,
            "model 'resnet18' expects 3 channels"},
           {"holdout.toml",
            data + "[[family]]\nname = \"holdout\"\ntemplate = \"tutorial({g},0)\"\n"
                   "[family.params]\ng = [0, 1]\n",
            "'holdout'"}}) {
    file(name, body);
    expect_case({"search " + name + " --out run_" + name, needle});
    EXPECT_FALSE(fs::exists(dir() + "/run_" + name)) << name;
  }
  file("shard.toml", data + tutorial);
  for (const char* shard : {"0/99999999999", "99999999999/1", "0/0", "1/1", "/2"}) {
    expect_case(
        {std::string("search shard.toml --shard ") + shard + " --out run_shard", "--shard"});
    EXPECT_FALSE(fs::exists(dir() + "/run_shard")) << shard;
  }
}

// An output path that is not a regular file (a FIFO, a link to a folder or a FIFO, a folder)
// is refused before any work, naming it, and left as it was: the atomic rename never replaces
// a device (train --out /dev/full as root did).
TEST(Catalogue, OutputsThatAreNotRegularFilesAreRefused) {
  const std::string d = dir() + "/special";
  fs::create_directories(d + "/folder");
  auto fifo = [&](const std::string& path) {
    fs::remove_all(path);
    ASSERT_EQ(::mkfifo(path.c_str(), 0644), 0) << path;
  };
  auto link = [&](const std::string& target, const std::string& path) {
    fs::remove_all(path);
    fs::create_symlink(target, path);
  };
  auto untouched = [&](const std::string& path, fs::file_type type) {
    EXPECT_EQ(fs::symlink_status(path).type(), type) << path;
  };
  fifo(d + "/fifo");
  link(d + "/folder", d + "/to_folder");
  link(d + "/fifo", d + "/to_fifo");
  for (const char* out : {"fifo", "to_folder", "to_fifo", "folder"})
    expect_case({"train --epochs 1 --limit 64 --out " + d + "/" + out, d + "/" + out});
  untouched(d + "/fifo", fs::file_type::fifo);
  untouched(d + "/to_folder", fs::file_type::symlink);
  untouched(d + "/to_fifo", fs::file_type::symlink);
  EXPECT_TRUE(fs::is_empty(d + "/folder"));
  // Files inside an output folder: explain, evaluate, search, merge, report.
  fs::create_directories(d + "/explain");
  fifo(d + "/explain/relevance.npy");
  expect_case({"explain" + kIn.substr(0, kIn.find(" --out")) + " --out " + d + "/explain",
               "explain/relevance.npy"});
  untouched(d + "/explain/relevance.npy", fs::file_type::fifo);
  fs::create_directories(d + "/evaluate");
  link(d + "/fifo", d + "/evaluate/curve.png");
  expect_case({"evaluate --composite tutorial" + kIn.substr(0, kIn.find(" --out")) + " --out " +
                   d + "/evaluate",
               "evaluate/curve.png"});
  untouched(d + "/evaluate/curve.png", fs::file_type::symlink);
  EXPECT_FALSE(fs::exists(d + "/evaluate/curve.csv"));
  file("special.toml", test::small_experiment(1));
  fs::create_directories(d + "/run");
  fifo(d + "/run/results.sqlite");
  expect_case({"search special.toml --force --out " + d + "/run", "run/results.sqlite"});
  expect_case({"merge " + d + "/run --out " + d + "/run", "run/results.sqlite"});
  untouched(d + "/run/results.sqlite", fs::file_type::fifo);
  fs::create_directories(d + "/report_run/report");
  fifo(d + "/report_run/aucs.csv");
  expect_case({"report " + d + "/report_run", "report_run/aucs.csv"});
  untouched(d + "/report_run/aucs.csv", fs::file_type::fifo);
  fs::remove(d + "/report_run/aucs.csv");
  link(d + "/folder", d + "/report_run/report/index.html");
  expect_case({"report " + d + "/report_run", "report/index.html"});
  untouched(d + "/report_run/report/index.html", fs::file_type::symlink);
}

// Output on stdout that cannot be written is a failed write (exit 1, one line), not a success
// that wrote nothing.
TEST(Catalogue, FailedWritesToStdoutAreExitOne) {
  file("stdout.toml", test::small_experiment(1));
  std::string err;
  ASSERT_EQ(test::run_command("cd " + dir() + " && " + test::binary() +
                                  " search stdout.toml --max-units 1 --out run_stdout",
                              &err),
            0)
      << err;
  for (const std::string& args :
       {std::string("classify --dataset fashion-mnist --index 0"), std::string("composites"),
        std::string("dump run_stdout"), std::string("--help"), std::string("explain --help"),
        std::string("--version")}) {
    // In a subshell: run_command's own redirection of stdout applies around it.
    EXPECT_EQ(test::run_command("(cd " + dir() + " && " + test::binary() + " " + args +
                                    " > /dev/full)",
                                &err),
              1)
        << args << "\n" << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << args << "\n" << err;
    EXPECT_NE(err.find("cannot write standard output"), std::string::npos) << args << "\n" << err;
  }
  // A merge into one of its sources (SQLite's "database is locked", exit 1, before).
  expect_case({"merge run_stdout --out run_stdout", "is both a source and --out"});
  // ... or into a folder holding a hard link of a source's store (cp -al): the source's bytes
  // changed under SQLite's lock before.
  fs::remove_all(dir() + "/hardlinked");
  fs::create_directories(dir() + "/hardlinked");
  fs::create_hard_link(dir() + "/run_stdout/results.sqlite", dir() + "/hardlinked/results.sqlite");
  const std::string source = slurp(dir() + "/run_stdout/results.sqlite");
  expect_case({"merge run_stdout --out hardlinked", "is both a source and --out"});
  EXPECT_TRUE(slurp(dir() + "/run_stdout/results.sqlite") == source);
}

TEST(Catalogue, FailedWritesNameTheFileAndLeaveNoPartialOutput) {
  // A file-size limit of 1 KiB: every output larger than that cannot be written.
  auto limited = [](const std::string& args) {
    return "bash -c 'ulimit -f 1; exec " + test::binary() + " " + args + "'";
  };
  struct Write {
    std::string args, file;
  };
  const std::string out = dir() + "/full";
  for (const Write& w :
       {Write{"explain --dataset fashion-mnist --index 0 --out " + out + "/explain", "relevance.npy"},
        Write{"evaluate --dataset fashion-mnist --index 0 --composite tutorial --out " + out +
                  "/evaluate",
              "curve.png"},  // curve.csv (< 1 KiB here) fits; the figure does not
        Write{"train --epochs 1 --limit 64 --out " + out + "/m.safetensors", "m.safetensors"}}) {
    fs::create_directories(out);
    std::string err;
    EXPECT_EQ(test::run_command(limited(w.args), &err), 1) << w.args << "\n" << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_NE(err.find(w.file), std::string::npos) << err;
    EXPECT_TRUE(err.find("File too large") != std::string::npos ||
                err.find("incomplete PNG") != std::string::npos)
        << err;
    // Nothing half-written: no file under the failed name, no temporary left behind.
    for (const auto& e : fs::recursive_directory_iterator(out)) {
      EXPECT_NE(e.path().filename().string(), w.file) << e.path();
      EXPECT_NE(e.path().filename().string()[0], '.') << e.path();
    }
    fs::remove_all(out);
  }
}

// Damaged stores (issue 21): a real store of a small experiment, damaged with SQL, is refused
// by dump, report, merge and a resumed search alike: exit 2, one line naming the store and the
// damage, the store byte-identical afterwards and no -wal / -shm / -journal left beside it.

// Runs `sql` on the SQLite file `db` (the last connection's close leaves no -wal behind).
void run_sql(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK) << db;
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
      << sql << ": " << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(h);
}

// A finished run of experiment `toml` (written as NAME.toml), made once per test process.
struct MadeRun {
  std::string exp, run;
};
MadeRun made_run(const std::string& name, const std::string& toml, const std::string& extra = "") {
  MadeRun m{file(name + ".toml", toml), dir() + "/" + name};
  if (!fs::exists(m.run + "/results.sqlite")) {
    std::string err;
    EXPECT_EQ(test::run_command(test::binary() + " search " + m.exp + " --threads 1 --out " +
                                    m.run + extra,
                                &err),
              0)
        << err;
  }
  return m;
}

// fashion-vgg on one ankle boot: tutorial and decreasing-gamma grids, three reference points.
MadeRun grid_run() { return made_run("grid", test::small_experiment(1)); }

// NSGA-II over a two-parameter template with sparseness beside pf-morf: 2 images, population
// 8, generations 0 and 1.
const char* const kParetoToml = R"TOML([data]
dataset = "fashion-mnist"
class = 9
count = 2
[[family]]
name = "blocks"
template = "0:zbox;1-9:gamma({g});10-:epsilon({e})"
[family.params]
g = "log0(-4,0)"
e = "log(-4,0)"
[reference]
points = ["zero"]
[metrics]
list = ["pf-morf", "sparseness"]
[pf]
patch = 2
[search]
strategy = "nsga2"
objectives = ["pf-morf", "sparseness"]
population = 8
generations = 1
)TOML";
MadeRun pareto_run() { return made_run("pareto", kParetoToml); }

// The same as CMA-ES on pf-morf, population 5.
MadeRun cmaes_run() {
  std::string toml = kParetoToml;
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"\"nsga2\"", "\"cmaes\""},
           {"objectives = [\"pf-morf\", \"sparseness\"]", "objective = \"pf-morf\""},
           {"population = 8", "population = 5"}})
    toml.replace(toml.find(from), from.size(), to);
  return made_run("cmaes", toml);
}

// Copies `from`'s store into a fresh run NAME, damages it with `sql`, and expects every
// command to refuse it naming `needle`, leaving it as it was.
void expect_damage_refused(const MadeRun& from, const std::string& name, const std::string& sql,
                           const std::string& needle) {
  SCOPED_TRACE(sql);
  const std::string run = dir() + "/damaged_" + name, out = dir() + "/merged_" + name;
  const std::string db = run + "/results.sqlite";
  fs::remove_all(run);
  fs::remove_all(out);
  fs::create_directories(run);
  fs::copy_file(from.run + "/results.sqlite", db);
  run_sql(db, sql);
  const std::string before = slurp(db);
  ASSERT_FALSE(before.empty());
  for (const std::string& cmd :
       {"dump " + run, "report " + run, "merge " + run + " --out " + out,
        "search " + from.exp + " --threads 1 --out " + run}) {
    std::string err;
    EXPECT_EQ(test::run_command(test::binary() + " " + cmd, &err), 2) << cmd << "\n" << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << cmd << "\n" << err;
    EXPECT_NE(err.find("'" + db + "' is not a usable result store"), std::string::npos)
        << cmd << "\n" << err;
    EXPECT_NE(err.find(needle), std::string::npos) << cmd << "\n" << err;
    EXPECT_TRUE(slurp(db) == before) << cmd << " changed the damaged store";
    for (const char* suffix : {"-wal", "-shm", "-journal"})
      EXPECT_FALSE(fs::exists(db + suffix)) << cmd << " left " << db << suffix;
  }
  EXPECT_FALSE(fs::exists(out + "/results.sqlite"));
  EXPECT_FALSE(fs::exists(run + "/report"));
}

TEST(Catalogue, DamagedStoresRowsAgainstTheirDefinitionAreRefusedByEveryCommand) {
  const MadeRun grid = grid_run();
  std::string err;
  ASSERT_EQ(test::run_command(test::binary() + " dump " + grid.run, &err), 0) << err;
  const std::vector<std::array<std::string, 3>> cases = {
      {"unknown_family_config", "UPDATE configs SET family = 'ghost' WHERE id = 0",
       "names family 'ghost'"},
      {"unknown_family_unit", "UPDATE units SET family = 'ghost' WHERE id = 0",
       "work units are not those of its definition"},
      {"target", "UPDATE images SET target = 10 WHERE id = 0", "target 10 is not a class"},
      {"target_label", "UPDATE images SET target = 3 WHERE id = 0",
       "target 3 is not its label 9 (target = auto)"},
      {"label", "UPDATE images SET label = 4, target = 4 WHERE id = 0",
       "label 4 is not the class 9 its definition selects"},
      {"order", "UPDATE curves SET ord = 'sideways' WHERE rowid = 1", "order 'sideways'"},
      {"missing_curve", "DELETE FROM curves WHERE rowid = 5", "curves or metric values missing"},
      {"missing_unit_curves", "DELETE FROM curves WHERE unit = 1", "(curves missing or extra)"},
      {"params", "UPDATE configs SET param2 = 0.5 WHERE id = 1", "at its params"},
      {"params_null", "UPDATE configs SET param1 = NULL WHERE id = 4", "at its params"},
      {"grid_cell", "UPDATE configs SET i1 = 5 WHERE id = 1", "sits at grid position (5, "},
      {"grid_cell_real", "UPDATE configs SET i1 = 0.5 WHERE id = 1", "configuration rows are malformed"},
      {"grid_cell_text", "UPDATE configs SET i1 = 'a' WHERE id = 1", "configuration rows are malformed"},
      {"reference_cell", "UPDATE configs SET i1 = 1, i2 = 1 WHERE point = 'reference'",
       "configuration rows are malformed"},
      {"auc", "UPDATE curves SET auc = auc + 1 WHERE rowid = 7",
       "has an AUC or AOPC that its scores do not give"},
      {"aopc", "UPDATE curves SET aopc = aopc * 2 + 1 WHERE rowid = 7",
       "has an AUC or AOPC that its scores do not give"},
      {"scores_cut", "UPDATE curves SET scores = substr(scores, 1, 16) WHERE rowid = 9",
       "has 2 scores, the store's curves"},
      {"auc_normalized", "UPDATE curves SET auc_normalized = NULL WHERE rowid = 1",
       "has a normalised AUC missing although its first score is positive"},
      {"grid_point", "UPDATE configs SET param1 = 7, spec = 'tutorial(7,0)' WHERE id = 0",
       "params are not point 0 of family 'tutorial'"},
      {"reference", "UPDATE configs SET spec = 'zplus' WHERE point = 'reference' AND family = ''"
                    " AND spec = 'zero'",
       "is not the definition's reference point 'zero'"},
      {"pareto_on_grid", "INSERT INTO meta VALUES ('pareto', '{\"tutorial\": [0]}')",
       "holds a Pareto front, but its definition's strategy is grid"},
      {"count", "DELETE FROM images WHERE id = 0; DELETE FROM curves; DELETE FROM units",
       "holds 0 images, its definition selects 1"},
  };
  for (const auto& [name, sql, needle] : cases) expect_damage_refused(grid, name, sql, needle);
}

// A resume that its replay refuses (NSGA-II's generation 1 drawn again from a tampered metric
// value differs from the stored one) writes nothing first, whatever the experiment file is
// called. (A tampered AUC is refused before the replay: it is not what its scores give.)
TEST(Catalogue, RefusedResumeOfAnEvolvedRunLeavesTheStoreAsItWas) {
  const MadeRun evolved = pareto_run();
  const std::string run = dir() + "/replayed", db = run + "/results.sqlite";
  fs::remove_all(run);
  fs::create_directories(run);
  fs::copy_file(evolved.run + "/results.sqlite", db);
  run_sql(db, "UPDATE metric_values SET value = 1 WHERE metric = 'sparseness' AND config_id IN "
              "(SELECT config_id FROM config_params WHERE round = 0)");
  const std::string before = slurp(db);
  const std::string other = file("pareto_renamed.toml", slurp(evolved.exp));
  std::string err;
  EXPECT_EQ(test::run_command(test::binary() + " search " + other + " --threads 1 --out " + run,
                              &err),
            2)
      << err;
  EXPECT_NE(err.find("generation 1 differs from the stored one"), std::string::npos) << err;
  EXPECT_TRUE(slurp(db) == before) << "the refused resume changed the store";
}

std::string dump_of(const std::string& run);

// A finished NSGA-II store without its Pareto front (older versions' merge dropped it): the
// report would show no front and no winner. dump, report and merge refuse it, saying how to
// repair it, and the resumed search writes the front again.
TEST(Catalogue, FinishedParetoRunWithoutItsFrontIsRepairedByResume) {
  const MadeRun evolved = pareto_run();
  for (const char* sql : {"DELETE FROM meta WHERE key = 'pareto'",
                          "UPDATE meta SET value = '{}' WHERE key = 'pareto'"}) {
    SCOPED_TRACE(sql);
    const std::string run = dir() + "/frontless", db = run + "/results.sqlite";
    fs::remove_all(run);
    fs::remove_all(dir() + "/frontless_merged");
    fs::create_directories(run);
    fs::copy_file(evolved.run + "/results.sqlite", db);
    run_sql(db, sql);
    const std::string before = slurp(db);
    for (const std::string& cmd : {"dump " + run, "report " + run,
                                   "merge " + run + " --out " + dir() + "/frontless_merged"}) {
      std::string err;
      EXPECT_EQ(test::run_command(test::binary() + " " + cmd, &err), 2) << cmd << "\n" << err;
      EXPECT_NE(err.find("its Pareto front of family 'blocks' is missing although every unit is "
                         "done; run the same search again"),
                std::string::npos)
          << cmd << "\n" << err;
      EXPECT_TRUE(slurp(db) == before) << cmd;
    }
    std::string err;
    ASSERT_EQ(test::run_command(test::binary() + " search " + evolved.exp + " --threads 1 --out " +
                                    run,
                                &err),
              0)
        << err;
    EXPECT_EQ(dump_of(run), dump_of(evolved.run));
  }
}

TEST(Catalogue, DamagedStoresOfEvolvedRunsAreRefusedByEveryCommand) {
  const MadeRun pareto = pareto_run();
  const std::vector<std::array<std::string, 3>> cases = {
      // report on these was a SIGSEGV
      {"pareto_family", "UPDATE meta SET value = '{\"ghost\": [1]}' WHERE key = 'pareto'",
       "its Pareto front names family 'ghost'"},
      {"pareto_config", "UPDATE meta SET value = '{\"blocks\": [999]}' WHERE key = 'pareto'",
       "names configuration 999"},
      {"pareto_reference", "UPDATE meta SET value = '{\"blocks\": [0]}' WHERE key = 'pareto'",
       "names configuration 0, which is not one of that family"},
      {"pareto_json", "UPDATE meta SET value = '[1, 2' WHERE key = 'pareto'",
       "corrupt Pareto front"},
      {"pareto_fraction", "UPDATE meta SET value = '{\"blocks\": [4.5]}' WHERE key = 'pareto'",
       "expected distinct configuration ids"},  // was read as configuration 4
      {"pareto_repeated", "UPDATE meta SET value = '{\"blocks\": [4, 4]}' WHERE key = 'pareto'",
       "expected distinct configuration ids"},
      {"pareto_empty", "UPDATE meta SET value = '{\"blocks\": []}' WHERE key = 'pareto'",
       "expected distinct configuration ids"},
      {"params_missing", "DELETE FROM config_params WHERE config_id = 3",
       "(missing or malformed params)"},
      {"params_short", "UPDATE config_params SET params = '[0.5]' WHERE config_id = 3",
       "(missing or malformed params)"},
      {"params_other", "UPDATE config_params SET params = '[0.5, 0.5]' WHERE config_id = 3",
       "at its params"},
      {"generation", "UPDATE config_params SET round = 7 WHERE config_id = 12",
       "generation 7 is out of order or beyond the 1 of its definition"},
      {"metric", "UPDATE metric_values SET metric = 'bogus' WHERE rowid = 1", "metric 'bogus'"},
      {"missing_metric", "DELETE FROM metric_values WHERE rowid = 3",
       "curves or metric values missing"},
  };
  for (const auto& [name, sql, needle] : cases) expect_damage_refused(pareto, name, sql, needle);
}

TEST(Catalogue, DamagedStoredDefinitionsAreCheckedLikeExperimentFiles) {
  // Every value of a stored definition passes the experiment reader's checks and bounds (a
  // billion generations hung report; eta = 0 ran it out of memory).
  const MadeRun grid = grid_run(), pareto = pareto_run();
  auto set = [](const std::string& path, const std::string& json) {
    return "UPDATE meta SET value = json_set(value, '" + path + "', json('" + json +
           "')) WHERE key = 'definition'";
  };
  expect_damage_refused(pareto, "generations", set("$.search.generations", "1000000000"),
                        "key 'search.generations': expected a value from 0 to 100000");
  expect_damage_refused(pareto, "population", set("$.search.population", "6"),
                        "key 'search.population': nsga2 needs a multiple of 4");
  expect_damage_refused(
      grid, "eta",
      set("$.search", R"({"strategy": "halving", "budget": 0, "eta": 0, "min_images": 2})"),
      "key 'search.eta': expected a value from 2 to 1000, got 0");
  expect_damage_refused(grid, "batch", set("$.batch", "0"), "key 'run.batch'");
  expect_damage_refused(grid, "count", set("$.data.count", "-1"), "key 'data.count'");
  expect_damage_refused(grid, "axis", set("$.families[0].values1", "[-1]"),
                        "key 'family.values1': values must be finite and >= 0");
  expect_damage_refused(grid, "order", set("$.orders", R"(["sideways"])"), "sideways");
  expect_damage_refused(grid, "strategy", set("$.search", R"({"strategy": "annealing"})"),
                        "key 'search.strategy'");
  expect_damage_refused(grid, "unknown_key", set("$.colour", R"("blue")"),
                        "key 'colour' does not read back as stored");
  expect_damage_refused(grid, "threads", set("$.threads", "0"), "key 'threads'");
  expect_damage_refused(grid, "objective", set("$.objective", R"("sparseness")"),
                        "key 'search.objective': 'sparseness' is not in [metrics] list");
}

// The rows of the store of RUN in the documented dump (docs/results-schema.md).
std::string dump_of(const std::string& run) { return Store(run + "/results.sqlite").dump(); }

TEST(Catalogue, MergedEvolvedRunsEqualTheMostCompleteOne) {
  // Runs of one definition replay one computation: merging a partial run with a complete one
  // gives the complete one (CMA-ES: its later generations' configurations; NSGA-II: its
  // Pareto front), in either order.
  for (const MadeRun& full : {pareto_run(), cmaes_run()}) {
    const std::string partial = full.run + "_partial";
    fs::remove_all(partial);
    std::string err;
    ASSERT_EQ(test::run_command(test::binary() + " search " + full.exp +
                                    " --threads 1 --max-units 2 --out " + partial,
                                &err),
              0)
        << err;
    for (const auto& order : {std::vector<std::string>{partial, full.run},
                              std::vector<std::string>{full.run, partial}}) {
      const std::string out = full.run + "_merged";
      fs::remove_all(out);
      ASSERT_EQ(test::run_command(test::binary() + " merge " + order[0] + " " + order[1] +
                                      " --out " + out,
                                  &err),
                0)
          << err;
      EXPECT_EQ(dump_of(out), dump_of(full.run)) << order[0];
      EXPECT_EQ(test::run_command(test::binary() + " report " + out, &err), 0) << err;
      EXPECT_EQ(test::run_command(test::binary() + " search " + full.exp + " --threads 1 --out " +
                                      out,
                                  &err),
                0)
          << err;
    }
  }
}

TEST(Catalogue, FullDiskDuringReportOrMergeIsCannotWrite) {
  // A file-size limit: SQLite's shared-memory file (1 KiB), or an output or the merged store
  // (40 KiB: the 32 KiB shared-memory file fits) cannot be written. Exit 1, "cannot write", never a sound store called unusable.
  const MadeRun grid = grid_run();
  for (const char* limit : {"1", "40"}) {
    const std::string run = dir() + "/full_disk_" + limit, out = run + "_merged";
    fs::remove_all(run);
    fs::remove_all(out);
    fs::create_directories(run);
    fs::copy_file(grid.run + "/results.sqlite", run + "/results.sqlite");
    const std::string before = slurp(run + "/results.sqlite");
    for (const std::string& cmd : {"report " + run, "merge " + run + " --out " + out}) {
      std::string err;
      EXPECT_EQ(test::run_command("bash -c 'ulimit -f " + std::string(limit) + "; exec " +
                                      test::binary() + " " + cmd + "'",
                                  &err),
                1)
          << cmd << "\n" << err;
      EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << cmd << "\n" << err;
      EXPECT_EQ(err.rfind("lrpbench: error: cannot write ", 0), 0u) << cmd << "\n" << err;
      EXPECT_EQ(err.find("not a usable"), std::string::npos) << cmd << "\n" << err;
      EXPECT_TRUE(slurp(run + "/results.sqlite") == before) << cmd;
    }
    // The store is sound: without the limit both work.
    std::string err;
    EXPECT_EQ(test::run_command(test::binary() + " report " + run, &err), 0) << err;
  }
}

// Starts `cmd` with a unit trace and SIGKILLs it at a seeded random moment: inside the
// 1st or 2nd unit it begins, up to `max_delay` seconds after that unit's start. Says whether
// the command ran to its end first, or where the kill landed (inside a unit, or between two:
// after a commit, before the next begin).
enum class Kill { Finished, InsideUnit, BetweenUnits };
Kill kill_at_random_moment(const std::string& cmd, std::mt19937_64& rng, double max_delay) {
  const std::string trace = dir() + "/kill.trace";
  fs::remove(trace);
  const std::string line = "exec env LRPBENCH_TRACE_UNITS=" + trace + " " + cmd + " > /dev/null 2>&1";
  const size_t nth = std::bernoulli_distribution(0.4)(rng) ? 2 : 1;
  const double delay = std::uniform_real_distribution<double>(0.0, max_delay)(rng);
  pid_t pid;
  const char* argv[] = {"/bin/sh", "-c", line.c_str(), nullptr};
  posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ);
  int status = 0;
  auto begun = [&] {
    std::ifstream in(trace);
    size_t n = 0;
    for (std::string l; std::getline(in, l);) n += l.rfind("begin", 0) == 0;
    return n;
  };
  const auto start = std::chrono::steady_clock::now();
  while (begun() < nth && std::chrono::steady_clock::now() - start < std::chrono::seconds(120)) {
    if (waitpid(pid, &status, WNOHANG) == pid) return Kill::Finished;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(delay));
  if (waitpid(pid, &status, WNOHANG) == pid) return Kill::Finished;
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  if (!WIFSIGNALED(status)) return Kill::Finished;  // it exited as the signal was sent
  std::ifstream in(trace);
  std::string last;
  for (std::string l; std::getline(in, l);) last = l;
  return last.rfind("begin", 0) == 0 ? Kill::InsideUnit : Kill::BetweenUnits;
}

TEST(Catalogue, SigkillInsideGenerationsAndRungsThenResumeEqualsTheUninterruptedRun) {
  // Ten seeded random kills inside the work units of CMA-ES and NSGA-II generations and of
  // halving rungs; resuming ends with the uninterrupted run's rows.
  std::string halving = R"TOML([data]
dataset = "fashion-mnist"
class = 9
count = 4
[[family]]
name = "tutorial"
values = "log(-2,0,2)+0"
[pf]
orders = ["morf"]
patch = 2
[search]
strategy = "halving"
eta = 3
min_images = 1
)TOML";
  std::mt19937_64 rng(21);
  for (const MadeRun& full :
       {pareto_run(), cmaes_run(), made_run("halving", halving)}) {
    SCOPED_TRACE(full.exp);
    const std::string killed = full.run + "_killed";
    fs::remove_all(killed);
    const std::string cmd = test::binary() + " search " + full.exp + " --threads 1 --out " + killed;
    const std::string expected = dump_of(full.run);
    int inside = 0, finished = 0;
    for (int attempt = 0; attempt < 60 && inside < 10; ++attempt) {
      const Kill k = kill_at_random_moment(cmd, rng, 0.03);  // units take tens of ms
      inside += k == Kill::InsideUnit;
      if (k != Kill::Finished) continue;  // (a kill between units is resumed all the same)
      // It ran to its end between kills: that run must equal the uninterrupted one too.
      ++finished;
      EXPECT_EQ(dump_of(killed), expected);
      fs::remove_all(killed);
    }
    EXPECT_GE(inside, 10) << finished << " runs finished between kills";
    std::string err;
    ASSERT_EQ(test::run_command(cmd, &err), 0) << err;
    EXPECT_EQ(dump_of(killed), expected);
  }
}

TEST(Catalogue, TemplatesOfManyParametersAreRefusedBeforeTheRunFolderExists) {
  // 16 parameters: alphabeta(a, b) on each of fashion-vgg's 8 rule-carrying nodes, a in
  // [1, 2] and b in [0, 1]. The all-low (1, 0) and all-high (2, 1) corners parse; a mixed one,
  // alphabeta(2, 0), does not (a - b must be 1). The check used to stop at those two corners
  // above 12 parameters, and the refusal came from CMA-ES's first draw, after the store existed.
  std::string templ, params;
  for (const char* node : {"0", "2", "5", "7", "10", "12", "15", "18"}) {
    templ += std::string(templ.empty() ? "" : ";") + node + ":alphabeta({a" + node + "},{b" +
             node + "})";
    params += std::string("a") + node + " = \"lin(1,2)\"\nb" + node + " = \"lin(0,1)\"\n";
  }
  const std::string exp = file("wide.toml", R"TOML([data]
dataset = "fashion-mnist"
class = 9
count = 1
[[family]]
name = "wide"
template = ")TOML" + templ + R"TOML("
[family.params]
)TOML" + params + R"TOML([pf]
orders = ["morf"]
patch = 2
[search]
strategy = "cmaes"
generations = 0
)TOML");
  const std::string run = dir() + "/wide";
  fs::remove_all(run);
  std::string err;
  EXPECT_EQ(test::run_command(test::binary() + " search " + exp + " --threads 1 --out " + run, &err),
            2)
      << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_NE(err.find("wide.toml:7: key 'family.template': at a0=2, b0=0"), std::string::npos)
      << err;
  EXPECT_NE(err.find("does not parse"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(run));
}

}  // namespace
}  // namespace lrpbench
