// The unpickler on arbitrary bytes, with every storage accepted up to a bound.
#include "fuzz.h"
#include "model/pickle.h"

LRPBENCH_FUZZ({
  const lrpbench::StorageCheck check = [](const std::string&, lrpbench::DType, int64_t numel) {
    if (numel > (int64_t(1) << 20)) throw lrpbench::InputError("storage too large");
  };
  const lrpbench::PickleDoc doc = lrpbench::unpickle(input, check, "fuzz.pkl");
  if (doc.root < 0 || static_cast<size_t>(doc.root) >= doc.values.size()) __builtin_trap();
})
