#include "model/torchscript_graph.h"

#include <ATen/ATen.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/script.h>

#include <map>
#include <unordered_map>

#include "model/torchscript.h"
#include "model/graph_check.h"
#include "util/error.h"

namespace lrpbench {
namespace {

namespace jit = torch::jit;

// What a value of the TorchScript graph stands for.
struct Val {
  enum Kind { Tensor, Module, Constant, List, Batch, None } kind = None;
  int node = kNetworkInput;  // Tensor: the node producing it (kNetworkInput: the input)
  std::string path;          // Module: its path ("" for the root); Constant: the attribute's
  c10::optional<jit::Module> module;
  c10::IValue value;       // Constant (parameters included)
  std::vector<Val> items;  // List
};

std::string op_name(const jit::Node* n) {
  std::string s = n->kind().toUnqualString();
  if (!s.empty() && s.back() == '_') s.pop_back();  // relu_ is relu
  return s;
}

bool is_leaf(const jit::Module& m) {
  return m.named_children().size() == 0;
}

std::string type_name(const jit::Module& m) {
  const std::string q = m.type()->name() ? m.type()->name()->qualifiedName() : "?";
  const auto dot = q.rfind('.');
  return dot == std::string::npos ? q : q.substr(dot + 1);
}

class Builder {
 public:
  Builder(jit::Module root, std::string path) : root_(std::move(root)), file_(std::move(path)) {
    collect_leaves(root_, "");
  }

  Network build() {
    const c10::optional<jit::Method> fwd = root_.find_method("forward");
    require(fwd.has_value(), file_ + ": the TorchScript module has no forward method");
    const std::shared_ptr<jit::Graph> g = fwd->graph();
    require(g->inputs().size() == 2,
            file_ + ": forward takes " + std::to_string(g->inputs().size() - 1) +
                " inputs; a classifier takes one image tensor");
    Env env;
    Val self;
    self.kind = Val::Module;
    self.module = root_;
    env[g->inputs()[0]] = self;
    Val x;
    x.kind = Val::Tensor;
    env[g->inputs()[1]] = x;
    walk(g->block(), env, "", "");
    require(g->outputs().size() == 1, file_ + ": forward returns several values, not logits");
    const Val& out = env.at(g->outputs()[0]);
    require(out.kind == Val::Tensor && out.node >= 0,
            file_ + ": forward does not return a tensor computed from its input (logits)");
    require(out.node == static_cast<int>(net_.layers.size()) - 1,
            file_ + ": forward returns an intermediate value, not the last operation's");
    net_.arch = file_;
    return net_;
  }

 private:
  using Env = std::unordered_map<const jit::Value*, Val>;
  jit::Module root_;
  std::string file_;
  Network net_;
  std::map<std::string, int> leaf_index_;

  void collect_leaves(const jit::Module& m, const std::string& prefix) {
    bool children = false;
    for (const auto& c : m.named_children()) {
      children = true;
      collect_leaves(c.value, prefix.empty() ? c.name : prefix + "." + c.name);
    }
    if (!children && !prefix.empty() && !leaf_index_.count(prefix)) {
      const int i = static_cast<int>(leaf_index_.size());
      leaf_index_[prefix] = i;
    }
  }

  [[noreturn]] void unsupported(const std::string& op, const std::string& where) const {
    throw InputError(file_ + ": unsupported operation '" + op + "' in node '" +
                     (where.empty() ? std::string("forward") : where) + "'");  // one line
  }

  // The node name of an operation: inside a leaf module the module's path, else the
  // enclosing module's path plus "." and the operation.
  std::string name_for(const std::string& scope, const std::string& leaf,
                       const std::string& op) const {
    if (!leaf.empty()) return leaf;
    return scope.empty() ? op : scope + "." + op;
  }

  int index_for(const std::string& leaf) const {
    auto it = leaf_index_.find(leaf);
    return leaf.empty() || it == leaf_index_.end() ? -1 : it->second;
  }

  Val tensor_node(Layer l, std::vector<int> inputs, const std::string& scope,
                  const std::string& leaf, const std::string& op) {
    l.name = name_for(scope, leaf, op);
    l.index = index_for(leaf);
    l.inputs = std::move(inputs);
    net_.layers.push_back(std::move(l));
    Val v;
    v.kind = Val::Tensor;
    v.node = static_cast<int>(net_.layers.size()) - 1;
    return v;
  }

  const Val& in(Env& env, const jit::Node* n, size_t k) const {
    if (k >= n->inputs().size())  // a function of the user's named like torch's (relu, dropout)
      throw InputError(file_ + ": '" + std::string(n->kind().toQualString()) + "' has " +
                       std::to_string(n->inputs().size()) + " inputs, not the " +
                       std::to_string(k + 1) + " its name implies");
    auto it = env.find(n->inputs()[k]);
    if (it == env.end()) throw InputError(file_ + ": malformed graph (a value used before it is set)");
    return it->second;
  }

  int tensor_in(Env& env, const jit::Node* n, size_t k, const std::string& where) const {
    const Val& v = in(env, n, k);
    if (v.kind != Val::Tensor) unsupported(op_name(n) + " on a non-activation", where);
    return v.node;
  }

  // A parameter: a tensor constant of `rank` dimensions, checked by parameter_tensor.
  at::Tensor param(Env& env, const jit::Node* n, size_t k, bool optional,
                   const std::string& where, int64_t rank) const {
    const Val& v = in(env, n, k);
    if (v.kind == Val::Constant && v.value.isNone() && optional) return {};
    if (v.kind != Val::Constant || !v.value.isTensor())
      unsupported(op_name(n) + " with a computed weight", where);
    return checked(v.value.toTensor(), v.path.empty() ? where : v.path, where, rank);
  }
  at::Tensor checked(const at::Tensor& t, const std::string& name, const std::string& node,
                     int64_t rank) const {
    const std::string what = file_ + ": parameter '" + name + "' of node '" + node + "'";
    require(t.dim() == rank, what + " has " + std::to_string(t.dim()) + " dimensions (" +
                                 std::to_string(rank) + " expected)");
    return parameter_tensor(t, what);
  }
  // A leaf module's tensor attribute `name` (absent: undefined when optional).
  at::Tensor module_param(const jit::Module& m, const std::string& path, const char* name,
                          int64_t rank, bool optional = false) const {
    const c10::IValue v = m.hasattr(name) ? m.attr(name) : c10::IValue();
    if (!v.isTensor()) {
      if (optional && v.isNone()) return {};
      throw InputError(file_ + ": module '" + path + "' has no tensor '" + name + "'");
    }
    return checked(v.toTensor(), path + "." + name, path, rank);
  }

  c10::IValue constant(Env& env, const jit::Node* n, size_t k, const std::string& where) const {
    const Val& v = in(env, n, k);
    if (v.kind == Val::Constant) return v.value;
    if (v.kind == Val::List) {
      c10::List<int64_t> list;
      for (const Val& item : v.items) {
        if (item.kind != Val::Constant || !item.value.isInt())
          unsupported(op_name(n) + " with a computed argument", where);
        list.push_back(item.value.toInt());
      }
      return list;
    }
    unsupported(op_name(n) + " with a computed argument", where);
  }

  int64_t integer(Env& env, const jit::Node* n, size_t k, const std::string& where) const {
    const c10::IValue v = constant(env, n, k, where);
    if (!v.isInt()) unsupported(op_name(n) + " with a non-integer argument", where);
    return v.toInt();
  }

  double real(Env& env, const jit::Node* n, size_t k, const std::string& where) const {
    const c10::IValue v = constant(env, n, k, where);
    if (v.isDouble()) return v.toDouble();
    if (v.isInt()) return static_cast<double>(v.toInt());
    unsupported(op_name(n) + " with a non-numeric argument", where);
  }

  bool flag(Env& env, const jit::Node* n, size_t k, const std::string& where) const {
    const c10::IValue v = constant(env, n, k, where);
    if (!v.isBool()) unsupported(op_name(n) + " with a non-boolean argument", where);
    return v.toBool();
  }

  Pair pair(Env& env, const jit::Node* n, size_t k, const std::string& where) const {
    const c10::IValue v = constant(env, n, k, where);
    if (v.isInt()) return {v.toInt(), v.toInt()};
    if (v.isIntList()) {
      const auto l = v.toIntVector();
      if (l.size() == 1) return {l[0], l[0]};
      if (l.size() == 2) return {l[0], l[1]};
    }
    unsupported(op_name(n) + " with a non-2-D argument", where);
  }

  void walk(jit::Block* b, Env& env, const std::string& scope, const std::string& leaf) {
    for (jit::Node* n : b->nodes()) node(n, env, scope, leaf);
  }

  void node(jit::Node* n, Env& env, const std::string& scope, const std::string& leaf) {
    const std::string where = leaf.empty() ? scope : leaf;
    const c10::Symbol k = n->kind();
    if (k == c10::prim::Constant) {
      Val v;
      v.kind = Val::Constant;
      const auto iv = jit::toIValue(n->output());
      v.value = iv ? *iv : c10::IValue();
      env[n->output()] = v;
      return;
    }
    if (k == c10::prim::GetAttr) {
      const Val& obj = in(env, n, 0);
      if (obj.kind != Val::Module) unsupported("prim::GetAttr on a non-module", where);
      const std::string name = n->s(c10::attr::name);
      const c10::IValue a = obj.module->attr(name);
      Val v;
      if (a.isModule()) {
        v.kind = Val::Module;
        v.module = a.toModule();
        v.path = obj.path.empty() ? name : obj.path + "." + name;
      } else {
        v.kind = Val::Constant;
        v.value = a;
        v.path = obj.path.empty() ? name : obj.path + "." + name;
      }
      env[n->output()] = v;
      return;
    }
    if (k == c10::prim::ListConstruct || k == c10::prim::TupleConstruct) {
      Val v;
      v.kind = Val::List;
      for (size_t i = 0; i < n->inputs().size(); ++i) v.items.push_back(in(env, n, i));
      env[n->output()] = v;
      return;
    }
    if (k == c10::prim::CallMethod) {
      call(n, env, where);
      return;
    }
    if (k == c10::prim::CallFunction) {
      call_function(n, env, scope, leaf);
      return;
    }
    if (k == c10::prim::Uninitialized) {  // a placeholder of a branch that raises
      env[n->output()] = Val();
      return;
    }
    if (k == c10::prim::If) {
      branch(n, env, scope, leaf);
      return;
    }
    if (k == c10::aten::size) {  // x.size(0): the batch size (for view(x.size(0), -1))
      Val v;
      v.kind = n->inputs().size() == 2 && in(env, n, 1).kind == Val::Constant &&
                       in(env, n, 1).value.isInt() && in(env, n, 1).value.toInt() == 0
                   ? Val::Batch
                   : Val::None;
      if (v.kind == Val::None) unsupported("aten::size of a dimension other than the batch", where);
      env[n->output()] = v;
      return;
    }
    if (k == c10::prim::NumToTensor || k == c10::aten::Int || k == c10::prim::unchecked_cast) {
      env[n->output()] = in(env, n, 0);
      return;
    }
    if (k == c10::aten::append) {  // list.append(x): the list value is mutated in place
      auto it = env.find(n->inputs()[0]);
      if (it == env.end() || it->second.kind != Val::List) unsupported("aten::append", where);
      it->second.items.push_back(in(env, n, 1));
      env[n->output()] = it->second;
      return;
    }
    if (k == c10::aten::__contains__ && in(env, n, 0).kind == Val::List &&
        in(env, n, 1).kind == Val::Constant && in(env, n, 1).value.isString()) {
      Val v;  // `mode in ["batch", "row"]` (torchvision's stochastic depth checks its mode)
      v.kind = Val::Constant;
      bool found = false;
      for (const Val& e : in(env, n, 0).items)
        found = found || (e.kind == Val::Constant && e.value.isString() &&
                          e.value.toStringRef() == in(env, n, 1).value.toStringRef());
      v.value = found;
      env[n->output()] = v;
      return;
    }
    if (fold_constant(n, env)) return;
    aten_op(n, env, scope, leaf);
  }

  // Comparisons and logic on constants (module settings such as `self.drop_rate > 0`).
  bool fold_constant(jit::Node* n, Env& env) {
    if (n->outputs().size() != 1 || n->inputs().empty()) return false;
    for (const jit::Value* v : n->inputs()) {
      auto it = env.find(v);
      if (it == env.end() || it->second.kind != Val::Constant || it->second.value.isTensor())
        return false;
    }
    const std::string op = n->kind().toQualString();
    const c10::IValue a = env[n->inputs()[0]].value;
    const c10::IValue b = n->inputs().size() > 1 ? env[n->inputs()[1]].value : c10::IValue();
    auto num = [](const c10::IValue& v, double* out) {
      if (v.isDouble()) *out = v.toDouble();
      else if (v.isInt()) *out = static_cast<double>(v.toInt());
      else if (v.isBool()) *out = v.toBool() ? 1.0 : 0.0;
      else return false;
      return true;
    };
    c10::optional<bool> r;
    double x = 0, y = 0;
    const bool numeric = num(a, &x) && n->inputs().size() == 2 && num(b, &y);
    if (op == "aten::__is__") r = a.isNone() == b.isNone() && (a.isNone() || a.isSameIdentity(b));
    else if (op == "aten::__isnot__") r = !(a.isNone() == b.isNone() && (a.isNone() || a.isSameIdentity(b)));
    else if (op == "aten::__not__" && a.isBool()) r = !a.toBool();

    else if (op == "aten::eq" && a.isString() && b.isString()) r = a.toStringRef() == b.toStringRef();
    else if (op == "aten::ne" && a.isString() && b.isString()) r = a.toStringRef() != b.toStringRef();
    else if (numeric && op == "aten::gt") r = x > y;
    else if (numeric && op == "aten::lt") r = x < y;
    else if (numeric && op == "aten::ge") r = x >= y;
    else if (numeric && op == "aten::le") r = x <= y;
    else if (numeric && op == "aten::eq") r = x == y;
    else if (numeric && op == "aten::ne") r = x != y;
    else if (op == "aten::__and__" && a.isBool() && b.isBool()) r = a.toBool() && b.toBool();
    else if (op == "aten::__or__" && a.isBool() && b.isBool()) r = a.toBool() || b.toBool();
    if (!r) return false;
    Val v;
    v.kind = Val::Constant;
    v.value = *r;
    env[n->output()] = v;
    return true;
  }

  // A submodule's method: followed into its graph.
  void call(jit::Node* n, Env& env, const std::string& where) {
    const Val& obj = in(env, n, 0);
    if (obj.kind != Val::Module) unsupported("prim::CallMethod on a non-module", where);
    const std::string method = n->s(c10::attr::name);
    const jit::Module m = *obj.module;
    const std::string leaf = !obj.path.empty() && is_leaf(m) ? obj.path : "";
    if (!leaf.empty() && method == "forward" && leaf_by_type(n, env, obj)) return;
    const std::shared_ptr<jit::Graph> g = m.get_method(method).graph();
    Env inner;
    for (size_t i = 0; i < g->inputs().size(); ++i) inner[g->inputs()[i]] = in(env, n, i);
    walk(g->block(), inner, obj.path, leaf);
    for (size_t i = 0; i < g->outputs().size(); ++i) env[n->outputs()[i]] = inner.at(g->outputs()[i]);
  }

  // A compiled Python function (torch.nn.functional's): the usual ones by name, others
  // followed into their graph.
  void call_function(jit::Node* n, Env& env, const std::string& scope, const std::string& leaf) {
    const auto fn_type = n->inputs()[0]->type()->cast<c10::FunctionType>();
    const std::string where = leaf.empty() ? scope : leaf;
    if (!fn_type) unsupported("prim::CallFunction of a computed function", where);
    jit::Function* fn = fn_type->function();
    const std::string name = fn->name();
    const size_t args = n->inputs().size() - 1;  // the function, then its arguments
    const bool torchs = (name == "adaptive_avg_pool2d" && args == 2) ||
                        ((name == "relu" || name == "relu6") && args >= 1) ||
                        (name == "dropout" && args == 4);
    Layer l;
    auto unary = [&](LayerKind kind) {
      l.kind = kind;
      const int src = tensor_in(env, n, 1, where);
      env[n->output()] = tensor_node(std::move(l), {src}, scope, leaf, name);
    };
    if (torchs && name == "adaptive_avg_pool2d") {
      l.output_size = pair(env, n, 2, where);
      unary(LayerKind::AdaptiveAvgPool2d);
      return;
    }
    if (torchs && name == "relu") {
      unary(LayerKind::ReLU);
      return;
    }
    if (torchs && name == "relu6") {
      l.clamp_max = 6.0;
      unary(LayerKind::ReLU);
      return;
    }
    if (torchs && name == "dropout") {
      if (flag(env, n, 3, where)) unsupported("dropout in training mode", where);
      unary(LayerKind::Dropout);
      return;
    }
    const std::shared_ptr<jit::Graph> g = jit::toGraphFunction(*fn).graph();
    Env inner;
    for (size_t i = 1; i < n->inputs().size(); ++i) inner[g->inputs()[i - 1]] = in(env, n, i);
    walk(g->block(), inner, scope, leaf);
    for (size_t i = 0; i < g->outputs().size(); ++i) env[n->outputs()[i]] = inner.at(g->outputs()[i]);
  }

  // Control flow: a branch with a constant condition is followed; of two branches one of
  // which only raises, the other one; anything else is refused.
  void branch(jit::Node* n, Env& env, const std::string& scope, const std::string& leaf) {
    const std::string where = leaf.empty() ? scope : leaf;
    const Val& cond = in(env, n, 0);
    int taken = -1;
    if (cond.kind == Val::Constant && cond.value.isBool()) taken = cond.value.toBool() ? 0 : 1;
    auto raises = [](jit::Block* b) {
      for (jit::Node* m : b->nodes())
        if (m->kind() == c10::prim::RaiseException) return true;
      return false;
    };
    if (taken < 0 && raises(n->blocks()[0])) taken = 1;
    if (taken < 0 && raises(n->blocks()[1])) taken = 0;
    if (taken < 0) unsupported("control flow (prim::If on a computed condition)", where);
    jit::Block* b = n->blocks()[static_cast<size_t>(taken)];
    walk(b, env, scope, leaf);
    for (size_t i = 0; i < n->outputs().size(); ++i) env[n->outputs()[i]] = env.at(b->outputs()[i]);
  }

  // Scripted leaf modules of torch.nn's known types keep their settings as attributes. Only
  // torch.nn's own classes (`__torch__.torch.nn.modules.*`) are read by type: a module of the
  // model's own named like one (class ReLU, class MaxPool2d) is followed into its graph, as is
  // a torch.nn module that lacks a setting (traced: the settings live in the graph). A setting
  // of the wrong type (an archive that lies about torch.nn's class) is refused, InputError.
  bool leaf_by_type(jit::Node* n, Env& env, const Val& obj) {
    const jit::Module& m = *obj.module;
    const std::string qualified = m.type()->name() ? m.type()->name()->qualifiedName() : "";
    if (qualified.rfind("__torch__.torch.nn.modules.", 0) != 0) return false;
    const std::string type = type_name(m);
    auto has = [&](std::initializer_list<const char*> names) {
      for (const char* name : names)
        if (!m.hasattr(name)) return false;
      return true;
    };
    auto not_a = [&](const char* name, const char* what) {  // for unsupported (noreturn)
      return type + " with " + name + " that is not " + what;
    };
    auto ints = [&](const char* name) -> Pair {
      const c10::IValue v = m.attr(name);
      if (v.isInt()) return {v.toInt(), v.toInt()};
      if (v.isTuple()) {
        const auto& e = v.toTupleRef().elements();
        if (e.size() == 2 && e[0].isInt() && e[1].isInt()) return {e[0].toInt(), e[1].toInt()};
      }
      if (v.isIntList()) {
        const auto l = v.toIntVector();
        if (l.size() == 2) return {l[0], l[1]};
      }
      unsupported(not_a(name, "two integers"), obj.path);
    };
    auto real = [&](const char* name) -> double {
      const c10::IValue v = m.attr(name);
      if (v.isDouble()) return v.toDouble();
      if (v.isInt()) return static_cast<double>(v.toInt());
      unsupported(not_a(name, "a number"), obj.path);
    };
    auto boolean = [&](const char* name) -> bool {
      const c10::IValue v = m.attr(name);
      if (!v.isBool()) unsupported(not_a(name, "a boolean"), obj.path);
      return v.toBool();
    };
    Layer l;
    if (type == "Conv2d") {
      if (!has({"stride", "padding", "dilation", "groups"})) return false;  // traced
      l.kind = LayerKind::Conv2d;
      l.weight = module_param(m, obj.path, "weight", 4);
      l.bias = module_param(m, obj.path, "bias", 1, true);
      l.has_bias = l.bias.defined();
      l.stride = ints("stride");
      if (m.attr("padding").isString()) {
        if (m.attr("padding").toStringRef() != "valid") unsupported("Conv2d with padding='same'", obj.path);
        l.padding = {0, 0};
      } else {
        l.padding = ints("padding");
      }
      if (m.hasattr("padding_mode")) {
        const c10::IValue mode = m.attr("padding_mode");
        if (!mode.isString()) unsupported(not_a("padding_mode", "a string"), obj.path);
        if (mode.toStringRef() != "zeros")
          unsupported("Conv2d with padding_mode " + mode.toStringRef(), obj.path);
      }
      l.dilation = ints("dilation");
      if (!m.attr("groups").isInt()) unsupported(not_a("groups", "an integer"), obj.path);
      l.groups = m.attr("groups").toInt();
      conv_shape(l);
    } else if (type == "BatchNorm2d") {
      if (!has({"eps"})) return false;
      l.kind = LayerKind::BatchNorm2d;
      l.weight = module_param(m, obj.path, "weight", 1);
      l.bias = module_param(m, obj.path, "bias", 1);
      l.running_mean = module_param(m, obj.path, "running_mean", 1);
      l.running_var = module_param(m, obj.path, "running_var", 1);
      if (!m.attr("eps").isDouble()) unsupported(not_a("eps", "a number"), obj.path);
      l.bn_eps = m.attr("eps").toDouble();
      l.in_channels = l.out_channels = l.weight.size(0);
    } else if (type == "Linear") {
      l.kind = LayerKind::Linear;
      l.weight = module_param(m, obj.path, "weight", 2);
      l.bias = module_param(m, obj.path, "bias", 1, true);
      l.has_bias = l.bias.defined();
      l.out_channels = l.weight.size(0);
      l.in_channels = l.weight.size(1);
    } else if (type == "ReLU") {
      l.kind = LayerKind::ReLU;
    } else if (type == "ReLU6" || type == "Hardtanh") {
      if (!has({"min_val", "max_val"})) return false;
      if (real("min_val") != 0.0) unsupported(type + " with a lower bound other than 0", obj.path);
      l.kind = LayerKind::ReLU;
      l.clamp_max = real("max_val");
    } else if (type == "MaxPool2d") {
      if (!has({"kernel_size", "stride", "padding", "dilation", "ceil_mode"})) return false;
      l.kind = LayerKind::MaxPool2d;
      l.kernel = ints("kernel_size");
      l.stride = m.attr("stride").isNone() ? l.kernel : ints("stride");
      l.padding = ints("padding");
      l.dilation = ints("dilation");
      l.ceil_mode = boolean("ceil_mode");
    } else if (type == "AdaptiveAvgPool2d") {
      if (!has({"output_size"})) return false;
      l.kind = LayerKind::AdaptiveAvgPool2d;
      l.output_size = ints("output_size");
    } else if (type == "Dropout" || type == "Identity") {
      l.kind = LayerKind::Dropout;
    } else {
      return false;  // followed into its graph (traced modules, pooling by average, ...)
    }
    const int src = tensor_in(env, n, 1, obj.path);
    env[n->output()] = tensor_node(std::move(l), {src}, "", obj.path, "");
    return true;
  }

  void conv_shape(Layer& l) const {  // groups out of range: check_nodes names them
    l.out_channels = l.weight.size(0);
    l.in_channels = l.groups >= 1 && l.groups <= kMaxGraphAttribute ? l.weight.size(1) * l.groups : 0;
    l.kernel = {l.weight.size(2), l.weight.size(3)};
  }

  // The Act node of an aten operation (silu, hardswish, ...), or null.
  static const Activation* activation_of(const std::string& op) {
    static const std::map<std::string, Activation> kActs = {
        {"silu", Activation::SiLU},           {"hardswish", Activation::Hardswish},
        {"hardsigmoid", Activation::Hardsigmoid}, {"sigmoid", Activation::Sigmoid},
        {"tanh", Activation::Tanh},           {"gelu", Activation::GeluErf}};
    auto it = kActs.find(op);
    return it == kActs.end() ? nullptr : &it->second;
  }

  void aten_op(jit::Node* n, Env& env, const std::string& scope, const std::string& leaf) {
    const std::string op = op_name(n);
    const std::string where = name_for(scope, leaf, op);
    const std::string qual = n->kind().toQualString();
    if (n->kind().ns() != c10::namespaces::aten) unsupported(qual, where);
    Layer l;
    std::vector<int> inputs;
    auto one = [&](LayerKind kind) {
      l.kind = kind;
      inputs = {tensor_in(env, n, 0, where)};
    };
    if (op == "relu") {
      one(LayerKind::ReLU);
    } else if (op == "hardtanh" || op == "relu6") {
      one(LayerKind::ReLU);
      const double lo = op == "relu6" ? 0.0 : real(env, n, 1, where);
      l.clamp_max = op == "relu6" ? 6.0 : real(env, n, 2, where);
      if (lo != 0.0) unsupported(qual + " with a lower bound other than 0", where);
    } else if (op == "dropout" || op == "feature_dropout" || op == "contiguous" ||
               op == "clone" || op == "detach") {
      one(LayerKind::Dropout);
      if ((op == "dropout" || op == "feature_dropout") && flag(env, n, 2, where))
        unsupported(qual + " in training mode", where);
    } else if (op == "conv2d" || op == "_convolution") {
      one(LayerKind::Conv2d);
      l.weight = param(env, n, 1, false, where, 4);
      l.bias = param(env, n, 2, true, where, 1);
      l.has_bias = l.bias.defined();
      l.stride = pair(env, n, 3, where);
      if (constant(env, n, 4, where).isString()) unsupported(qual + " with string padding", where);
      l.padding = pair(env, n, 4, where);
      l.dilation = pair(env, n, 5, where);
      if (op == "_convolution") {
        if (flag(env, n, 6, where)) unsupported("transposed convolution", where);
        l.groups = integer(env, n, 8, where);
      } else {
        l.groups = integer(env, n, 6, where);
      }
      conv_shape(l);
    } else if (op == "batch_norm") {
      one(LayerKind::BatchNorm2d);
      l.weight = param(env, n, 1, false, where, 1);
      l.bias = param(env, n, 2, false, where, 1);
      l.running_mean = param(env, n, 3, false, where, 1);
      l.running_var = param(env, n, 4, false, where, 1);
      if (flag(env, n, 5, where)) unsupported(qual + " in training mode", where);
      l.bn_eps = real(env, n, 7, where);
      l.in_channels = l.out_channels = l.weight.size(0);
    } else if (op == "linear" || op == "addmm") {
      const bool addmm = op == "addmm";
      l.kind = LayerKind::Linear;
      inputs = {tensor_in(env, n, addmm ? 1 : 0, where)};
      l.weight = param(env, n, addmm ? 2 : 1, false, where, 2);
      l.bias = param(env, n, addmm ? 0 : 2, true, where, 1);
      if (addmm) l.weight = l.weight.t().contiguous();
      l.has_bias = l.bias.defined();
      l.out_channels = l.weight.size(0);
      l.in_channels = l.weight.size(1);
    } else if (op == "max_pool2d") {
      one(LayerKind::MaxPool2d);
      l.kernel = pair(env, n, 1, where);
      const c10::IValue s = constant(env, n, 2, where);
      l.stride = s.isIntList() && s.toIntVector().empty() ? l.kernel : pair(env, n, 2, where);
      l.padding = pair(env, n, 3, where);
      l.dilation = pair(env, n, 4, where);
      l.ceil_mode = flag(env, n, 5, where);
    } else if (op == "avg_pool2d") {
      one(LayerKind::AvgPool2d);
      l.kernel = pair(env, n, 1, where);
      const c10::IValue s = constant(env, n, 2, where);
      l.stride = s.isIntList() && s.toIntVector().empty() ? l.kernel : pair(env, n, 2, where);
      l.padding = pair(env, n, 3, where);
      l.ceil_mode = flag(env, n, 4, where);
      if (l.padding != Pair{0, 0} && !flag(env, n, 5, where))
        unsupported(qual + " with count_include_pad=False", where);
      if (n->inputs().size() > 6 && !constant(env, n, 6, where).isNone())
        unsupported(qual + " with divisor_override", where);
    } else if (op == "constant_pad_nd" || op == "pad") {
      one(LayerKind::Pad);
      const c10::IValue p = constant(env, n, 1, where);
      const std::vector<int64_t> pads = p.isIntList() ? p.toIntVector() : std::vector<int64_t>();
      if (op == "pad" && n->inputs().size() > 2 && constant(env, n, 2, where).isString() &&
          constant(env, n, 2, where).toStringRef() != "constant")
        unsupported(qual + " in mode '" + constant(env, n, 2, where).toStringRef() + "'", where);
      const size_t vi = op == "pad" ? 3 : 2;
      const c10::IValue v = n->inputs().size() > vi ? constant(env, n, vi, where) : c10::IValue();
      if (!v.isNone() && (v.isDouble() || v.isInt()) && v.toScalar().toDouble() != 0.0)
        unsupported(qual + " with a value other than 0", where);
      l.pad = spatial_padding(pads);
      if (l.pad.empty()) unsupported(qual + " of axes other than the spatial ones, or negative", where);
    } else if (const Activation* act = activation_of(op)) {  // element-wise non-linearities
      one(LayerKind::Act);
      l.activation = *act;
      if (op == "gelu" && n->inputs().size() > 1) {
        const c10::IValue a = constant(env, n, 1, where);
        if (a.isString() && a.toStringRef() == "tanh") l.activation = Activation::GeluTanh;
        else if (!a.isString() || a.toStringRef() != "none") unsupported(qual + " of an unknown approximation", where);
      }
    } else if (op == "mul" && in(env, n, 0).kind == Val::Tensor && in(env, n, 1).kind == Val::Tensor) {
      l.kind = LayerKind::Product;  // two computed tensors (a squeeze-excitation gate)
      inputs = {tensor_in(env, n, 0, where), tensor_in(env, n, 1, where)};
    } else if (op == "adaptive_avg_pool2d") {
      one(LayerKind::AdaptiveAvgPool2d);
      l.output_size = pair(env, n, 1, where);
    } else if (op == "mean") {
      one(LayerKind::AdaptiveAvgPool2d);  // a mean over the spatial axes
      const c10::IValue dims = constant(env, n, 1, where);
      const auto d = dims.isIntList() ? dims.toIntVector() : std::vector<int64_t>();
      const bool spatial = d.size() == 2 && ((d[0] == 2 && d[1] == 3) || (d[0] == -2 && d[1] == -1));
      if (!spatial) unsupported(qual + " over axes other than the spatial ones", where);
      l.output_size = {1, 1};
      if (!flag(env, n, 2, where)) {  // keepdim=False: the pooled map flattened
        env[n->output()] = tensor_node(l, inputs, scope, leaf, "mean");
        Layer f;
        f.kind = LayerKind::Flatten;
        env[n->output()] =
            tensor_node(f, {env[n->output()].node}, scope, leaf, "flatten");
        return;
      }
    } else if (op == "flatten") {
      one(LayerKind::Flatten);
      if (integer(env, n, 1, where) != 1 || integer(env, n, 2, where) != -1)
        unsupported(qual + " of axes other than 1..-1", where);
    } else if (op == "view" || op == "reshape") {
      one(LayerKind::Flatten);
      const Val& shape = in(env, n, 1);
      const bool ok = shape.kind == Val::List && shape.items.size() == 2 &&
                      (shape.items[0].kind == Val::Batch ||
                       (shape.items[0].kind == Val::Constant && shape.items[0].value.isInt())) &&
                      shape.items[1].kind == Val::Constant && shape.items[1].value.isInt() &&
                      shape.items[1].value.toInt() == -1;
      if (!ok) unsupported(qual + " to a shape other than (N, -1)", where);
    } else if (op == "add") {
      l.kind = LayerKind::Add;
      inputs = {tensor_in(env, n, 0, where), tensor_in(env, n, 1, where)};
      if (n->inputs().size() > 2 && real(env, n, 2, where) != 1.0)
        unsupported(qual + " with alpha other than 1", where);
    } else if (op == "cat") {
      l.kind = LayerKind::Concat;
      const Val& list = in(env, n, 0);
      if (list.kind != Val::List || integer(env, n, 1, where) != 1)
        unsupported(qual + " along an axis other than the channels", where);
      for (const Val& v : list.items) {
        if (v.kind != Val::Tensor) unsupported(qual + " of non-activations", where);
        inputs.push_back(v.node);
      }
      if (inputs.size() == 1) l.kind = LayerKind::Dropout;
    } else {
      unsupported(qual, where);
    }
    env[n->output()] = tensor_node(std::move(l), std::move(inputs), scope, leaf, op);
  }
};

}  // namespace

Network read_torchscript_graph(const std::string& bytes, const std::string& path) {
  return read_torchscript_graph(load_torchscript_module(bytes, path), path);
}

Network read_torchscript_graph(const torch::jit::Module& loaded, const std::string& path) {
  torch::jit::Module module = loaded;
  module.eval();
#ifdef LRPBENCH_FUZZING
  // The fuzz target (fuzz/fuzz_torchscript_graph.cpp) sees what the walk throws: anything
  // but an InputError is a finding there.
  return Builder(module, path).build();
#else
  // Defence in depth: LibTorch's errors from a graph the walk did not foresee refuse the file
  // (InputError, one line naming it) rather than escape as another exception type.
  try {
    return Builder(module, path).build();
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    throw InputError(path + ": cannot read the TorchScript graph (" + first_line(e.what()) + ")");
  }
#endif
}

}  // namespace lrpbench
