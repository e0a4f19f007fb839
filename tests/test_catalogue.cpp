// The bad-input catalogue: every command, given a missing, empty, truncated, wrong-type or
// hostile file for each file it reads, or an out-of-range number for each numeric option,
// exits 0 or 2 with one line naming the culprit; a write that fails is exit 1 naming the file
// and leaves no partial output behind.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <tuple>
#include <vector>

#include "helpers.h"
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
      {"input_half_fixed",
       [](A& o) {
         o.m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()
             ->mutable_shape()->mutable_dim(3)->set_dim_param("W");
       },
       "fixes its height or its width but not both"},
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

}  // namespace
}  // namespace lrpbench
