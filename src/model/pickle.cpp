#include "model/pickle.h"

#include <cstring>
#include <map>
#include <unordered_map>

#include "util/error.h"

namespace lrpbench {
namespace {

using Kind = PickleValue::Kind;

const std::map<std::string, DType>& storage_types() {
  static const std::map<std::string, DType> t = {
      {"torch.FloatStorage", DType::Float32}, {"torch.DoubleStorage", DType::Float64},
      {"torch.HalfStorage", DType::Float16},  {"torch.BFloat16Storage", DType::BFloat16},
      {"torch.LongStorage", DType::Int64},    {"torch.IntStorage", DType::Int32},
      {"torch.ShortStorage", DType::Int16},   {"torch.CharStorage", DType::Int8},
      {"torch.ByteStorage", DType::UInt8},    {"torch.BoolStorage", DType::Bool}};
  return t;
}

constexpr size_t kMaxDims = 16;
constexpr int64_t kMaxNumel = int64_t(1) << 40;

class Unpickler {
 public:
  Unpickler(std::string_view data, const StorageCheck& check, const std::string& what)
      : d_(data), check_(check), what_(what) {}

  PickleDoc run() {
    while (true) {
      const uint8_t op = u8();
      switch (op) {
        case 0x80:  // PROTO
          u8();
          break;
        case 0x95:  // FRAME
          bytes(8);
          break;
        case '}':  // EMPTY_DICT
          push(make(Kind::Dict));
          break;
        case ']':  // EMPTY_LIST
          push(make(Kind::List));
          break;
        case ')':  // EMPTY_TUPLE
          push(make(Kind::Tuple));
          break;
        case '(':  // MARK
          if (marks_.size() >= kPickleMaxValues) corrupt("too many marks");
          marks_.push_back(stack_.size());
          break;
        case 't': {  // TUPLE
          std::vector<int> items = pop_mark();
          const int t = make(Kind::Tuple);
          v(t).items = std::move(items);
          push(t);
          break;
        }
        case 0x85:
        case 0x86:
        case 0x87: {  // TUPLE1..3
          const size_t n = op - 0x84;
          need(n);
          std::vector<int> items(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
          stack_.resize(stack_.size() - n);
          const int t = make(Kind::Tuple);
          v(t).items = std::move(items);
          push(t);
          break;
        }
        case 'q':  // BINPUT
          memo_put(u8());
          break;
        case 'r':  // LONG_BINPUT
          memo_put(u32());
          break;
        case 0x94:  // MEMOIZE
          memo_put(memo_.size());
          break;
        case 'h':  // BINGET
          push(get(u8()));
          break;
        case 'j':  // LONG_BINGET
          push(get(u32()));
          break;
        case 'X':  // BINUNICODE
        case 'T':  // BINSTRING
        case 'B':  // BINBYTES
          push(str(bytes(u32())));
          break;
        case 0x8c:  // SHORT_BINUNICODE
        case 'U':   // SHORT_BINSTRING
        case 'C':   // SHORT_BINBYTES
          push(str(bytes(u8())));
          break;
        case 0x8d:  // BINUNICODE8
        case 0x8e:  // BINBYTES8
          push(str(bytes(u64())));
          break;
        case 'c': {  // GLOBAL
          std::string module = line();
          std::string name = line();
          push(global(module + "." + name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          const int name = pop();
          const int module = pop();
          if (v(name).kind != Kind::String || v(module).kind != Kind::String)
            corrupt("STACK_GLOBAL of non-strings");
          push(global(v(module).s + "." + v(name).s));
          break;
        }
        case 'J':  // BININT
          push(integer(static_cast<int32_t>(u32())));
          break;
        case 'K':  // BININT1
          push(integer(u8()));
          break;
        case 'M':  // BININT2
          push(integer(u16()));
          break;
        case 0x8a: {  // LONG1
          const size_t n = u8();
          const std::string_view b = bytes(n);
          if (n > 8) corrupt("integer too large");
          int64_t x = 0;
          for (size_t k = 0; k < n; ++k)
            x = static_cast<int64_t>(static_cast<uint64_t>(x) |
                                     (static_cast<uint64_t>(static_cast<uint8_t>(b[k])) << (8 * k)));
          if (n > 0 && n < 8 && (static_cast<uint8_t>(b[n - 1]) & 0x80))
            x = static_cast<int64_t>(static_cast<uint64_t>(x) - (uint64_t(1) << (8 * n)));
          push(integer(x));
          break;
        }
        case 'N':
          push(make(Kind::None));
          break;
        case 0x88:
        case 0x89: {  // NEWTRUE / NEWFALSE
          const int b = make(Kind::Bool);
          v(b).b = op == 0x88;
          push(b);
          break;
        }
        case 'G': {  // BINFLOAT (big-endian)
          const std::string_view b = bytes(8);
          uint64_t bits = 0;
          for (int k = 0; k < 8; ++k) bits = (bits << 8) | static_cast<uint8_t>(b[static_cast<size_t>(k)]);
          const int f = make(Kind::Float);
          std::memcpy(&v(f).f, &bits, 8);
          push(f);
          break;
        }
        case 'Q':  // BINPERSID
          push(persistent(pop()));
          break;
        case 'R': {  // REDUCE
          const int args = pop();
          const int fn = pop();
          push(reduce(fn, args));
          break;
        }
        case 0x81: {  // NEWOBJ
          pop();
          pop();
          push(make(Kind::Opaque));
          break;
        }
        case 'b':  // BUILD: the state is ignored (e.g. _metadata)
          pop();
          need(1);
          break;
        case 's': {  // SETITEM
          const int val = pop();
          const int key = pop();
          set_item(top(), key, val);
          break;
        }
        case 'u': {  // SETITEMS
          const std::vector<int> items = pop_mark();
          if (items.size() % 2 != 0) corrupt("odd SETITEMS");
          const int d = top();
          for (size_t k = 0; k < items.size(); k += 2) set_item(d, items[k], items[k + 1]);
          break;
        }
        case 'a': {  // APPEND
          const int val = pop();
          append(top(), val);
          break;
        }
        case 'e': {  // APPENDS
          const std::vector<int> items = pop_mark();
          const int l = top();
          for (int val : items) append(l, val);
          break;
        }
        case '.': {  // STOP
          PickleDoc doc;
          doc.root = pop();
          doc.values = std::move(values_);
          return doc;
        }
        default:
          throw InputError(what_ + ": unsupported pickle opcode 0x" + hex(op) + " at byte " +
                           std::to_string(pos_ - 1));
      }
    }
  }

 private:
  std::string_view d_;
  const StorageCheck& check_;
  const std::string& what_;
  size_t pos_ = 0;
  std::vector<PickleValue> values_;
  std::vector<int> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, int> memo_;

  static std::string hex(uint8_t x) {
    const char* digits = "0123456789abcdef";
    return {digits[x >> 4], digits[x & 15]};
  }
  [[noreturn]] void corrupt(const std::string& why) const {
    throw InputError(what_ + ": corrupt pickle data (" + why + " at byte " + std::to_string(pos_) +
                     ")");
  }
  [[noreturn]] void truncated() const {
    throw InputError(what_ + ": truncated or corrupt pickle data");
  }
  PickleValue& v(int id) { return values_[static_cast<size_t>(id)]; }
  int make(Kind k) {
    if (values_.size() >= kPickleMaxValues) corrupt("too many values");
    values_.emplace_back();
    values_.back().kind = k;
    return static_cast<int>(values_.size() - 1);
  }
  uint8_t u8() {
    if (pos_ >= d_.size()) truncated();
    return static_cast<uint8_t>(d_[pos_++]);
  }
  uint16_t u16() {
    const uint16_t lo = u8();  // two statements: the reads happen in this order
    const uint16_t hi = u8();
    return static_cast<uint16_t>(lo | (hi << 8));
  }
  uint32_t u32() {
    uint32_t x = 0;
    for (int k = 0; k < 4; ++k) x |= static_cast<uint32_t>(u8()) << (8 * k);
    return x;
  }
  uint64_t u64() {
    uint64_t x = 0;
    for (int k = 0; k < 8; ++k) x |= static_cast<uint64_t>(u8()) << (8 * k);
    return x;
  }
  std::string_view bytes(uint64_t n) {
    if (n > d_.size() - pos_) truncated();
    const std::string_view out = d_.substr(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return out;
  }
  std::string line() {
    const size_t end = d_.find('\n', pos_);
    if (end == std::string_view::npos) truncated();
    std::string out(d_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return out;
  }
  int str(std::string_view s) {
    const int x = make(Kind::String);
    v(x).s = std::string(s);
    return x;
  }
  int global(std::string name) {
    const int x = make(Kind::Global);
    v(x).s = std::move(name);
    return x;
  }
  int integer(int64_t i) {
    const int x = make(Kind::Int);
    v(x).i = i;
    return x;
  }
  void push(int x) {
    if (stack_.size() >= kPickleMaxValues) corrupt("stack too deep");
    stack_.push_back(x);
  }
  void need(size_t n) const {
    const size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() < floor + n) truncated();
  }
  int pop() {
    need(1);
    const int x = stack_.back();
    stack_.pop_back();
    return x;
  }
  int top() const {
    need(1);
    return stack_.back();
  }
  void memo_put(uint64_t key) {
    if (memo_.size() >= kPickleMaxValues) corrupt("memo too large");
    memo_[key] = top();
  }
  int get(uint64_t key) const {
    auto it = memo_.find(key);
    if (it == memo_.end()) corrupt("memo key " + std::to_string(key) + " never stored");
    return it->second;
  }
  std::vector<int> pop_mark() {
    if (marks_.empty()) truncated();
    const size_t m = marks_.back();
    marks_.pop_back();
    if (m > stack_.size()) truncated();
    std::vector<int> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  void set_item(int d, int key, int val) {
    if (v(d).kind != Kind::Dict) corrupt("item set on a non-dict");
    const PickleValue& k = v(key);
    for (auto& kv : v(d).dict) {
      const PickleValue& old = v(kv.first);
      if (old.kind == Kind::String && k.kind == Kind::String && old.s == k.s) {
        kv.second = val;
        return;
      }
    }
    v(d).dict.emplace_back(key, val);
  }
  void append(int l, int val) {
    if (v(l).kind != Kind::List) corrupt("append to a non-list");
    v(l).items.push_back(val);
  }

  int persistent(int pid) {
    // ('storage', <storage type>, key, location, numel)
    const PickleValue& p = v(pid);
    if (p.kind != Kind::Tuple || p.items.size() < 5 || v(p.items[0]).kind != Kind::String ||
        v(p.items[0]).s != "storage")
      throw InputError(what_ + ": unsupported persistent id in pickle");
    const PickleValue& type = v(p.items[1]);
    auto it = storage_types().find(type.s);
    if (type.kind != Kind::Global || it == storage_types().end())
      throw InputError(what_ + ": unsupported storage type '" + type.s + "'");
    const PickleValue& key_value = v(p.items[2]);
    const PickleValue& numel_value = v(p.items[4]);
    if (key_value.kind != Kind::String || numel_value.kind != Kind::Int || numel_value.i < 0 ||
        numel_value.i > kMaxNumel)
      corrupt("bad storage record");
    const std::string key = key_value.s;  // copies: make() may move the arena
    const int64_t numel = numel_value.i;
    const DType dtype = it->second;
    check_(key, dtype, numel);
    const int st = make(Kind::Storage);
    v(st).s = key;
    v(st).dtype = dtype;
    v(st).numel = numel;
    return st;
  }

  std::vector<int64_t> ints(int t) const {
    const PickleValue& x = values_[static_cast<size_t>(t)];
    if (x.kind != Kind::Tuple || x.items.size() > kMaxDims) corrupt("bad tensor shape");
    std::vector<int64_t> out;
    for (int e : x.items) {
      const PickleValue& n = values_[static_cast<size_t>(e)];
      if (n.kind != Kind::Int || n.i < 0 || n.i > kMaxNumel) corrupt("bad tensor shape");
      out.push_back(n.i);
    }
    return out;
  }

  int tensor(int args) {
    const PickleValue& a = v(args);
    if (a.kind != Kind::Tuple || a.items.size() < 4 || v(a.items[0]).kind != Kind::Storage ||
        v(a.items[1]).kind != Kind::Int)
      corrupt("bad tensor record");
    const int storage = a.items[0];
    const int64_t offset = v(a.items[1]).i;
    std::vector<int64_t> size = ints(a.items[2]), stride = ints(a.items[3]);
    if (size.size() != stride.size() || offset < 0 || offset > kMaxNumel)
      corrupt("bad tensor record");
    // The last element the view reaches must lie inside the storage.
    bool empty = false;
    int64_t last = offset;
    for (size_t k = 0; k < size.size(); ++k) {
      if (size[k] == 0) empty = true;
      if (size[k] > 0 && stride[k] > 0 && (size[k] - 1) > (kMaxNumel - last) / stride[k])
        corrupt("tensor view overflows");
      if (size[k] > 0) last += (size[k] - 1) * stride[k];
    }
    int64_t numel = 0;
    if (!checked_numel(size.data(), size.size(), kMaxNumel, &numel)) corrupt("tensor too large");
    if (!empty && last >= v(storage).numel)
      throw InputError(what_ + ": tensor view exceeds its storage (corrupt file)");
    const int t = make(Kind::Tensor);
    v(t).storage = storage;
    v(t).dtype = v(storage).dtype;
    v(t).offset = offset;
    v(t).numel = numel;
    v(t).sizes = std::move(size);
    v(t).strides = std::move(stride);
    return t;
  }

  int reduce(int fn, int args) {
    const PickleValue& f = v(fn);
    if (f.kind == Kind::Global && f.s == "collections.OrderedDict") return make(Kind::Dict);
    if (f.kind == Kind::Global && f.s == "torch._utils._rebuild_tensor_v2") return tensor(args);
    if (f.kind == Kind::Global && f.s == "torch._utils._rebuild_parameter") {
      const PickleValue& a = v(args);
      if (a.kind != Kind::Tuple || a.items.empty()) corrupt("bad parameter record");
      return a.items[0];
    }
    const std::string name = f.s;
    const int o = make(Kind::Opaque);
    v(o).s = name;
    return o;
  }
};

}  // namespace

PickleDoc unpickle(std::string_view data, const StorageCheck& check, const std::string& what) {
  return Unpickler(data, check, what).run();
}

}  // namespace lrpbench
