#pragma once
// A small, safe unpickler for what torch.save writes: dicts (plain and OrderedDict),
// lists, tuples, strings, numbers and tensors rebuilt from storages. Unknown callables
// become opaque values; nothing is ever executed.
#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace lrpbench {

struct PickleValue;
using PickleRef = std::shared_ptr<PickleValue>;

struct PickleValue {
  enum class Kind {
    None,
    Bool,
    Int,
    Float,
    String,
    Tuple,
    List,
    Dict,
    Global,
    Tensor,
    Storage,
    Opaque
  };
  Kind kind = Kind::None;
  bool b = false;
  int64_t i = 0;
  double f = 0.0;
  std::string s;                                      // String; Global "module.name"; Storage key
  std::vector<PickleRef> items;                       // Tuple, List
  std::vector<std::pair<PickleRef, PickleRef>> dict;  // Dict, in insertion order
  at::Tensor tensor;                                  // Tensor; Storage (1-D, its dtype)
};

// Loads the storage with `key` and element type `dtype` (numel elements).
using StorageLoader =
    std::function<at::Tensor(const std::string& key, at::ScalarType dtype, int64_t numel)>;

// Unpickles `data`; `what` names the source in errors (InputError).
PickleRef unpickle(const std::string& data, const StorageLoader& load, const std::string& what);

}  // namespace lrpbench
