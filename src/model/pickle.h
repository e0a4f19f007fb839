#pragma once
// A small, safe unpickler for what torch.save and torch.jit.save write: dicts (plain and
// OrderedDict), lists, tuples, strings, numbers, storages and tensor records. Unknown
// callables become opaque values; nothing is ever executed. Values live in one arena and
// refer to each other by position, so a hostile pickle can build neither a reference cycle
// that leaks nor a nesting whose destruction overflows the stack. No LibTorch: the result is
// plain data (model/pth.h turns tensor records into tensors).
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/dtype.h"

namespace lrpbench {

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
  std::string s;                        // String; Global "module.name"; Storage key; Opaque's callable
  std::vector<int> items;               // Tuple, List: value ids
  std::vector<std::pair<int, int>> dict;  // Dict: (key id, value id), in insertion order
  // Storage: element type and count. Tensor: its storage's value id and the view on it.
  DType dtype = DType::Float32;
  int64_t numel = 0;
  int storage = -1;
  int64_t offset = 0;
  std::vector<int64_t> sizes, strides;
};

struct PickleDoc {
  std::vector<PickleValue> values;
  int root = -1;
  const PickleValue& at(int id) const { return values.at(static_cast<size_t>(id)); }
};

// Called for every storage the pickle references (key, element type, element count) before
// any tensor uses it: it checks that the archive holds that many bytes (throwing InputError
// otherwise), so that nothing is sized from the pickle alone.
using StorageCheck = std::function<void(const std::string& key, DType dtype, int64_t numel)>;

// Bounds: at most this many values (and stack entries), and tensor views of at most 16
// dimensions.
constexpr size_t kPickleMaxValues = 1u << 24;

// Unpickles `data`; `what` names the source in errors (InputError).
PickleDoc unpickle(std::string_view data, const StorageCheck& check, const std::string& what);

}  // namespace lrpbench
