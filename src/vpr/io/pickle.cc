#include "vpr/io/pickle.h"

#include <c10/util/Exception.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <string_view>
#include <unordered_map>

#include "vpr/util/check.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the pickle reader copies little-endian integers and tensor data as they are");

namespace vpr {

namespace {

using Kind = PyValue::Kind;
using Args = std::vector<PyValuePtr>;

// Bounds that keep hostile input from exhausting memory or the C++ stack; real
// checkpoints stay far below them.
constexpr size_t kMaxStack = size_t{1} << 22;
constexpr size_t kMaxMemo = size_t{1} << 22;
constexpr int kMaxNesting = 500;
constexpr int kMaxCallDepth = 8;
constexpr size_t kMaxDims = 64;
constexpr int kMaxKeyDepth = 2;
constexpr size_t kMaxKeyBytes = 256;
// Values that constructors may copy (argument lists), per input byte: a pickle could
// otherwise reuse one big tuple in many calls and multiply memory.
constexpr size_t kCopiesPerByte = 16;

#define VPR_PICKLE_OPCODES(X)                                                               \
  X(MARK, '(') X(STOP, '.') X(POP, '0') X(POP_MARK, '1') X(DUP, '2') X(FLOAT, 'F')        \
  X(INT, 'I') X(BININT, 'J') X(BININT1, 'K') X(LONG, 'L') X(BININT2, 'M') X(NONE, 'N')    \
  X(PERSID, 'P') X(BINPERSID, 'Q') X(REDUCE, 'R') X(STRING, 'S') X(BINSTRING, 'T')        \
  X(SHORT_BINSTRING, 'U') X(UNICODE, 'V') X(BINUNICODE, 'X') X(APPEND, 'a') X(BUILD, 'b') \
  X(GLOBAL, 'c') X(DICT, 'd') X(EMPTY_DICT, '}') X(APPENDS, 'e') X(GET, 'g')              \
  X(BINGET, 'h') X(INST, 'i') X(LONG_BINGET, 'j') X(LIST, 'l') X(EMPTY_LIST, ']')         \
  X(OBJ, 'o') X(PUT, 'p') X(BINPUT, 'q') X(LONG_BINPUT, 'r') X(SETITEM, 's') X(TUPLE, 't') \
  X(EMPTY_TUPLE, ')') X(SETITEMS, 'u') X(BINFLOAT, 'G') X(PROTO, 0x80) X(NEWOBJ, 0x81)    \
  X(EXT1, 0x82) X(EXT2, 0x83) X(EXT4, 0x84) X(TUPLE1, 0x85) X(TUPLE2, 0x86)               \
  X(TUPLE3, 0x87) X(NEWTRUE, 0x88) X(NEWFALSE, 0x89) X(LONG1, 0x8a) X(LONG4, 0x8b)        \
  X(BINBYTES, 'B') X(SHORT_BINBYTES, 'C') X(SHORT_BINUNICODE, 0x8c) X(BINUNICODE8, 0x8d)  \
  X(BINBYTES8, 0x8e) X(EMPTY_SET, 0x8f) X(ADDITEMS, 0x90) X(FROZENSET, 0x91)              \
  X(NEWOBJ_EX, 0x92) X(STACK_GLOBAL, 0x93) X(MEMOIZE, 0x94) X(FRAME, 0x95)                \
  X(BYTEARRAY8, 0x96) X(NEXT_BUFFER, 0x97) X(READONLY_BUFFER, 0x98)

enum class Op : uint8_t {
#define VPR_OP_ENUM(name, code) name = code,
  VPR_PICKLE_OPCODES(VPR_OP_ENUM)
#undef VPR_OP_ENUM
};

std::string OpName(uint8_t code) {
  switch (static_cast<Op>(code)) {
#define VPR_OP_NAME(name, code) \
  case Op::name:                \
    return #name;
    VPR_PICKLE_OPCODES(VPR_OP_NAME)
#undef VPR_OP_NAME
  }
  static const char* kHex = "0123456789abcdef";
  return std::string("0x") + kHex[code >> 4] + kHex[code & 15];
}

bool HasChildren(const PyValue& v) {
  return v.kind == Kind::kList || v.kind == Kind::kTuple || v.kind == Kind::kDict ||
         v.kind == Kind::kOpaque;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string DtypeName(at::ScalarType type) { return Lower(c10::toString(type)); }

std::string ShapeText(at::IntArrayRef shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

// Python ints of any width arrive as little-endian two's complement (LONG1/LONG4);
// only those that fit int64 are accepted.
int64_t DecodeLong(const uint8_t* bytes, size_t n) {
  if (n == 0) return 0;
  const bool negative = bytes[n - 1] & 0x80;
  const uint8_t fill = negative ? 0xff : 0x00;
  for (size_t i = 8; i < n; ++i) {
    VPR_CHECK(bytes[i] == fill, "integer of ", n, " bytes does not fit in 64 bits");
  }
  if (n > 8) VPR_CHECK(((bytes[7] & 0x80) != 0) == negative, "integer does not fit in 64 bits");
  uint64_t value = negative ? ~uint64_t{0} : 0;
  for (size_t i = 0; i < std::min<size_t>(n, 8); ++i) {
    value &= ~(uint64_t{0xff} << (8 * i));
    value |= uint64_t{bytes[i]} << (8 * i);
  }
  return static_cast<int64_t>(value);
}

int64_t ParseDecimal(std::string_view text, const char* what) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  VPR_CHECK(ec == std::errc() && end == text.data() + text.size(), "bad ", what, " '",
            std::string(text.substr(0, 40)), "' (not a 64-bit decimal integer)");
  return value;
}

// Python 2 module names that Python 3's unpickler renames (fix_imports).
std::string NormalizeModule(const std::string& module) {
  if (module == "__builtin__") return "builtins";
  if (module == "copy_reg") return "copyreg";
  return module;
}

// Python strings that hold only code points below 256, back to those bytes; this is
// how protocol 2 pickles bytes (_codecs.encode(text, 'latin1')).
std::string Latin1FromUtf8(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<uint8_t>(text[i]);
    if (c < 0x80) {
      out += static_cast<char>(c);
      continue;
    }
    VPR_CHECK((c == 0xc2 || c == 0xc3) && i + 1 < text.size() &&
                  (static_cast<uint8_t>(text[i + 1]) & 0xc0) == 0x80,
              "text is not latin-1 encodable at character ", i);
    out += static_cast<char>(((c & 0x03) << 6) | (static_cast<uint8_t>(text[++i]) & 0x3f));
  }
  return out;
}

int64_t AsInt(const PyValuePtr& v, const char* what) {
  VPR_CHECK(v->kind == Kind::kInt, what, " must be an int, got ", v->Describe());
  return v->integer;
}

std::vector<int64_t> AsIntTuple(const PyValuePtr& v, const char* what) {
  VPR_CHECK(v->kind == Kind::kTuple || v->kind == Kind::kList, what,
            " must be a tuple of ints, got ", v->Describe());
  VPR_CHECK(v->items.size() <= kMaxDims, what, " has ", v->items.size(), " dimensions (at most ",
            kMaxDims, ")");
  std::vector<int64_t> out;
  for (const auto& item : v->items) out.push_back(AsInt(item, what));
  return out;
}

// A tensor view must stay inside its storage: checked here, with overflow-safe
// arithmetic, before ATen is asked to build it.
void CheckView(int64_t storage_numel, int64_t offset, const std::vector<int64_t>& size,
               const std::vector<int64_t>& stride) {
  VPR_CHECK(size.size() == stride.size(), "tensor has ", size.size(), " sizes but ",
            stride.size(), " strides");
  VPR_CHECK(offset >= 0 && offset <= storage_numel, "tensor storage offset ", offset,
            " is outside its storage of ", storage_numel, " elements");
  int64_t numel = 1;
  int64_t last = offset;
  for (size_t i = 0; i < size.size(); ++i) {
    VPR_CHECK(size[i] >= 0 && stride[i] >= 0, "tensor size ", ShapeText(size), " / stride ",
              ShapeText(stride), " has a negative entry");
    VPR_CHECK(!__builtin_mul_overflow(numel, size[i], &numel), "tensor size ", ShapeText(size),
              " overflows");
  }
  if (numel == 0) return;
  for (size_t i = 0; i < size.size(); ++i) {
    int64_t step = 0;
    VPR_CHECK(!__builtin_mul_overflow(size[i] - 1, stride[i], &step) &&
                  !__builtin_add_overflow(last, step, &last),
              "tensor stride ", ShapeText(stride), " overflows");
  }
  VPR_CHECK(last < storage_numel, "tensor view (offset ", offset, ", size ", ShapeText(size),
            ", stride ", ShapeText(stride), ") reaches element ", last, " but its storage has ",
            storage_numel, " elements");
}

void SwapBytes(std::string* bytes) { std::reverse(bytes->begin(), bytes->end()); }

// numpy.dtype(...) as pickled: REDUCE args ('f8', False, True), BUILD state
// (3, '<', ...). Returns e.g. "f8" and the byte order character.
bool NumpyDtype(const PyValuePtr& dtype, std::string* code, char* order) {
  if (dtype->kind != Kind::kOpaque || dtype->text != "numpy.dtype" || dtype->items.empty() ||
      dtype->items[0]->kind != Kind::kString) {
    return false;
  }
  *code = dtype->items[0]->text;
  *order = '=';
  if (!code->empty() && std::strchr("<>=|", code->front())) {
    *order = code->front();
    code->erase(0, 1);
  }
  const PyValuePtr& state = dtype->state;
  if (state && state->kind == Kind::kTuple && state->items.size() > 1 &&
      state->items[1]->kind == Kind::kString && state->items[1]->text.size() == 1) {
    *order = state->items[1]->text[0];
  }
  return code->size() >= 2;
}

template <typename T>
T LoadAs(const std::string& bytes) {
  T value;
  std::memcpy(&value, bytes.data(), sizeof(T));
  return value;
}

PyValuePtr MakeScalar(Kind kind) {
  auto v = std::make_shared<PyValue>();
  v->kind = kind;
  return v;
}

PyValuePtr MakeInt(int64_t value) {
  auto v = MakeScalar(Kind::kInt);
  v->integer = value;
  return v;
}

PyValuePtr MakeFloat(double value) {
  auto v = MakeScalar(Kind::kFloat);
  v->real = value;
  return v;
}

PyValuePtr MakeBool(bool value) {
  auto v = MakeScalar(Kind::kBool);
  v->boolean = value;
  return v;
}

PyValuePtr MakeText(Kind kind, std::string text) {
  auto v = MakeScalar(kind);
  v->text = std::move(text);
  return v;
}

// The value of a numpy scalar of dtype `code` ("f8", "i4", "b1", ...) from its raw bytes;
// nullptr for dtypes that have no plain counterpart (complex, strings, dates).
PyValuePtr NumpyScalarValue(const std::string& code, char order, std::string bytes) {
  const char kind = code[0];
  if (std::string_view("fiub").find(kind) == std::string_view::npos) return nullptr;
  const int64_t size = ParseDecimal(std::string_view(code).substr(1), "numpy dtype size");
  VPR_CHECK(static_cast<int64_t>(bytes.size()) == size, "numpy scalar of dtype '", code,
            "' has ", bytes.size(), " bytes, expected ", size);
  if (order == '>') SwapBytes(&bytes);
  if (kind == 'f' && size == 2) {
    const c10::Half half(LoadAs<uint16_t>(bytes), c10::Half::from_bits());
    return MakeFloat(static_cast<float>(half));
  }
  if (kind == 'f' && size == 4) return MakeFloat(LoadAs<float>(bytes));
  if (kind == 'f' && size == 8) return MakeFloat(LoadAs<double>(bytes));
  if (kind == 'b' && size == 1) return MakeBool(bytes[0] != 0);
  if (kind == 'i' && size == 1) return MakeInt(LoadAs<int8_t>(bytes));
  if (kind == 'i' && size == 2) return MakeInt(LoadAs<int16_t>(bytes));
  if (kind == 'i' && size == 4) return MakeInt(LoadAs<int32_t>(bytes));
  if (kind == 'i' && size == 8) return MakeInt(LoadAs<int64_t>(bytes));
  if (kind == 'u' && size == 1) return MakeInt(LoadAs<uint8_t>(bytes));
  if (kind == 'u' && size == 2) return MakeInt(LoadAs<uint16_t>(bytes));
  if (kind == 'u' && size == 4) return MakeInt(LoadAs<uint32_t>(bytes));
  if (kind == 'u' && size == 8 && LoadAs<uint64_t>(bytes) <= uint64_t{INT64_MAX}) {
    return MakeInt(static_cast<int64_t>(LoadAs<uint64_t>(bytes)));
  }
  return nullptr;
}

// Appends a value-based key for `key` to `out`: false for kinds compared by identity
// and for keys too large to be worth the cost (hostile input could repeat them).
bool AppendKey(const PyValue& key, int depth, std::string* out) {
  if (out->size() > kMaxKeyBytes) return false;
  switch (key.kind) {
    case Kind::kNone: *out += 'N'; return true;
    case Kind::kBool: *out += key.boolean ? "i1;" : "i0;"; return true;  // True == 1 in Python
    case Kind::kInt: *out += "i" + std::to_string(key.integer) + ";"; return true;
    case Kind::kFloat:
      if (std::isfinite(key.real) && std::fabs(key.real) < 9e18 &&
          key.real == std::floor(key.real)) {
        *out += "i" + std::to_string(static_cast<int64_t>(key.real)) + ";";  // 1.0 == 1
      } else {
        uint64_t bits = 0;
        std::memcpy(&bits, &key.real, sizeof(bits));
        *out += "f" + std::to_string(bits) + ";";
      }
      return true;
    case Kind::kString:
    case Kind::kBytes:
    case Kind::kGlobal: {
      if (key.text.size() > kMaxKeyBytes) return false;
      const char tag = key.kind == Kind::kString ? 's' : key.kind == Kind::kBytes ? 'b' : 'g';
      *out += tag + std::to_string(key.text.size()) + ":" + key.text;
      return true;
    }
    case Kind::kTuple:
      if (depth >= kMaxKeyDepth) return false;
      *out += "(";
      for (const auto& item : key.items) {
        if (!AppendKey(*item, depth + 1, out)) return false;
      }
      *out += ")";
      return out->size() <= kMaxKeyBytes;
    default: return false;
  }
}

// Dict keys compare by value for the hashable plain kinds, by identity otherwise.
std::string KeyFingerprint(const PyValue& key) {
  std::string out;
  if (AppendKey(key, 0, &out)) return out;
  return "p" + std::to_string(reinterpret_cast<uintptr_t>(&key));
}

class Unpickler {
 public:
  Unpickler(const char* data, size_t size, const PersistentLoad& load)
      : data_(data), size_(size), load_(load) {}
  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;
  ~Unpickler() { ReleaseGraph(); }

  PyValuePtr Run(size_t* consumed);

 private:
  using Handler = PyValuePtr (Unpickler::*)(const Args&);

  // Input.
  const uint8_t* Need(size_t n);
  template <typename T>
  T Read() {
    T value;
    std::memcpy(&value, Need(sizeof(T)), sizeof(T));
    return value;
  }
  std::string ReadString(size_t n) {
    return std::string(reinterpret_cast<const char*>(Need(n)), n);
  }
  std::string_view Line();

  // Stack, marks and memo.
  void Push(PyValuePtr v);
  size_t Available() const { return stack_.size() - (marks_.empty() ? 0 : marks_.back()); }
  PyValuePtr Pop();
  PyValuePtr& Top();
  Args PopMark();
  void Memoize(int64_t index);
  void Recall(int64_t index);

  // Values; every container is tracked so that ReleaseGraph can break cycles.
  PyValuePtr New(Kind kind);
  void Charge(size_t copies);
  PyValuePtr NewList(Args items, Kind kind = Kind::kList);
  PyValuePtr CopyList(const Args& items, Kind kind = Kind::kList);
  PyValuePtr NewOpaque(const std::string& name, const Args& args);
  std::unordered_map<std::string, size_t>& DictIndex(PyValue* dict);
  void SetItem(const PyValuePtr& target, const PyValuePtr& key, const PyValuePtr& value);
  void Append(const PyValuePtr& target, const Args& items);

  // Opcodes, by group; each returns false when `code` is not one of its own.
  bool Step(uint8_t code);
  bool StepScalar(Op op);
  bool StepText(Op op);
  bool StepContainer(Op op);
  bool StepStack(Op op);
  bool StepObject(Op op);
  void PushLong(size_t n) { Push(MakeInt(DecodeLong(Need(n), n))); }
  void PushText(Kind kind, size_t n) { Push(MakeText(kind, ReadString(n))); }
  void PushGlobal(const std::string& module, const std::string& name);

  // Objects.
  PyValuePtr Call(const PyValuePtr& callee, const Args& args);
  PyValuePtr NewObject(const PyValuePtr& cls, const PyValuePtr& args);
  void Build(const PyValuePtr& target, const PyValuePtr& state);
  PyValuePtr Persistent(const PyValuePtr& pid);
  static const std::unordered_map<std::string, Handler>& Handlers();
  PyValuePtr CallDict(const Args& args);
  PyValuePtr CallEmptyDict(const Args&) { return New(Kind::kDict); }
  PyValuePtr CallSet(const Args& args);
  PyValuePtr CallBytes(const Args& args);
  PyValuePtr CallEncode(const Args& args);
  PyValuePtr CallRebuildTensor(const Args& args);
  PyValuePtr CallParameter(const Args& args);
  PyValuePtr CallFromType(const Args& args);
  PyValuePtr CallFirstArg(const Args& args) { return args.empty() ? nullptr : args[0]; }
  PyValuePtr CallBuildList(const Args& args);
  PyValuePtr CallNumpyScalar(const Args& args);
  PyValuePtr CallSize(const Args& args);
  PyValuePtr CallReconstruct(const Args& args);

  // Graph checks and teardown.
  void CheckGraph(const PyValuePtr& v, int depth);
  void ReleaseGraph();

  const char* data_;
  size_t size_;
  const PersistentLoad& load_;
  size_t pos_ = 0;
  size_t copies_ = 0;
  int call_depth_ = 0;
  std::vector<PyValuePtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<int64_t, PyValuePtr> memo_;
  std::vector<PyValuePtr> owned_;  // every container created, for ReleaseGraph
  std::unordered_map<const PyValue*, std::unordered_map<std::string, size_t>> dict_index_;
  std::unordered_map<const PyValue*, bool> visited_;  // CheckGraph: false while on the path
  bool graph_ok_ = false;
};

// ---- Input ----

const uint8_t* Unpickler::Need(size_t n) {
  VPR_CHECK(n <= size_ - pos_, "truncated: needs ", n, " bytes but only ", size_ - pos_,
            " remain (the data ends early)");
  const auto* p = reinterpret_cast<const uint8_t*>(data_ + pos_);
  pos_ += n;
  return p;
}

std::string_view Unpickler::Line() {
  const char* start = data_ + pos_;
  const void* end = std::memchr(start, '\n', size_ - pos_);
  VPR_CHECK(end != nullptr, "truncated: no end of line before the data ends");
  const size_t n = static_cast<const char*>(end) - start;
  pos_ += n + 1;
  return std::string_view(start, n);
}

// ---- Stack, marks and memo ----

void Unpickler::Push(PyValuePtr v) {
  VPR_CHECK(stack_.size() < kMaxStack, "stack holds more than ", kMaxStack, " values");
  stack_.push_back(std::move(v));
}

PyValuePtr Unpickler::Pop() {
  VPR_CHECK(Available() > 0, "stack underflow");
  PyValuePtr v = std::move(stack_.back());
  stack_.pop_back();
  return v;
}

PyValuePtr& Unpickler::Top() {
  VPR_CHECK(Available() > 0, "stack underflow");
  return stack_.back();
}

Args Unpickler::PopMark() {
  VPR_CHECK(!marks_.empty(), "no MARK on the stack");
  const size_t mark = marks_.back();
  marks_.pop_back();
  Args items(std::make_move_iterator(stack_.begin() + mark),
             std::make_move_iterator(stack_.end()));
  stack_.resize(mark);
  return items;
}

void Unpickler::Memoize(int64_t index) {
  VPR_CHECK(memo_.size() < kMaxMemo || memo_.count(index), "memo holds more than ", kMaxMemo,
            " values");
  memo_[index] = Top();
}

void Unpickler::Recall(int64_t index) {
  auto it = memo_.find(index);
  VPR_CHECK(it != memo_.end(), "memo key ", index, " was never stored");
  Push(it->second);
}

// ---- Values ----

PyValuePtr Unpickler::New(Kind kind) {
  PyValuePtr v = MakeScalar(kind);
  if (HasChildren(*v)) owned_.push_back(v);
  return v;
}

void Unpickler::Charge(size_t copies) {
  copies_ += copies;
  VPR_CHECK(copies_ <= kCopiesPerByte * size_ + 1024, "the pickle copies more values (",
            copies_, ") than its ", size_, " bytes can justify");
}

PyValuePtr Unpickler::NewList(Args items, Kind kind) {
  PyValuePtr v = New(kind);
  v->items = std::move(items);
  return v;
}

PyValuePtr Unpickler::CopyList(const Args& items, Kind kind) {
  Charge(items.size());
  return NewList(items, kind);
}

PyValuePtr Unpickler::NewOpaque(const std::string& name, const Args& args) {
  Charge(args.size());
  PyValuePtr v = New(Kind::kOpaque);
  v->text = name;
  v->items = args;
  return v;
}

std::unordered_map<std::string, size_t>& Unpickler::DictIndex(PyValue* dict) {
  auto [it, inserted] = dict_index_.try_emplace(dict);
  if (inserted) {
    // Built lazily, for dicts filled by constructors rather than SETITEM.
    for (size_t i = 0; i < dict->entries.size(); ++i) {
      it->second[KeyFingerprint(*dict->entries[i].first)] = i;
    }
  }
  return it->second;
}

void Unpickler::SetItem(const PyValuePtr& target, const PyValuePtr& key,
                        const PyValuePtr& value) {
  VPR_CHECK(target->kind == Kind::kDict || target->kind == Kind::kOpaque,
            "cannot set an item on ", target->Describe());
  auto& index = DictIndex(target.get());
  auto [it, inserted] = index.try_emplace(KeyFingerprint(*key), target->entries.size());
  if (inserted) {
    target->entries.emplace_back(key, value);
  } else {
    target->entries[it->second].second = value;  // a repeated key replaces, as in Python
  }
}

void Unpickler::Append(const PyValuePtr& target, const Args& items) {
  VPR_CHECK(target->kind == Kind::kList || target->kind == Kind::kOpaque, "cannot append to ",
            target->Describe());
  target->items.insert(target->items.end(), items.begin(), items.end());
}

// ---- Opcodes ----

bool Unpickler::Step(uint8_t code) {
  const Op op = static_cast<Op>(code);
  if (op == Op::STOP) return false;
  if (StepScalar(op) || StepText(op) || StepContainer(op) || StepStack(op) || StepObject(op)) {
    return true;
  }
  VPR_THROW("unsupported or unknown opcode (torch.save never writes it)");
}

bool Unpickler::StepScalar(Op op) {
  switch (op) {
    case Op::NONE: Push(MakeScalar(Kind::kNone)); return true;
    case Op::NEWTRUE: Push(MakeBool(true)); return true;
    case Op::NEWFALSE: Push(MakeBool(false)); return true;
    case Op::BININT: Push(MakeInt(Read<int32_t>())); return true;
    case Op::BININT1: Push(MakeInt(Read<uint8_t>())); return true;
    case Op::BININT2: Push(MakeInt(Read<uint16_t>())); return true;
    case Op::LONG1: PushLong(Read<uint8_t>()); return true;
    case Op::LONG4: {
      const int32_t n = Read<int32_t>();
      VPR_CHECK(n >= 0, "negative integer length ", n);
      PushLong(static_cast<size_t>(n));
      return true;
    }
    case Op::INT: {
      const std::string_view line = Line();
      if (line == "00" || line == "01") {
        Push(MakeBool(line == "01"));  // protocol 0 spells booleans this way
      } else {
        Push(MakeInt(ParseDecimal(line, "INT")));
      }
      return true;
    }
    case Op::LONG: {
      std::string_view line = Line();
      if (!line.empty() && line.back() == 'L') line.remove_suffix(1);
      Push(MakeInt(ParseDecimal(line, "LONG")));
      return true;
    }
    case Op::BINFLOAT: {
      uint64_t bits = __builtin_bswap64(Read<uint64_t>());  // big-endian on the wire
      double value = 0;
      std::memcpy(&value, &bits, sizeof(value));
      Push(MakeFloat(value));
      return true;
    }
    case Op::FLOAT: {
      const std::string_view line = Line();
      double value = 0;
      auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), value);
      VPR_CHECK(ec == std::errc() && end == line.data() + line.size(), "bad FLOAT '",
                std::string(line.substr(0, 40)), "'");
      Push(MakeFloat(value));
      return true;
    }
    default: return false;
  }
}

bool Unpickler::StepText(Op op) {
  switch (op) {
    case Op::SHORT_BINUNICODE: PushText(Kind::kString, Read<uint8_t>()); return true;
    case Op::BINUNICODE: PushText(Kind::kString, Read<uint32_t>()); return true;
    case Op::BINUNICODE8: PushText(Kind::kString, Read<uint64_t>()); return true;
    // Python 2 str: torch.load decodes it as text (encoding='utf-8').
    case Op::SHORT_BINSTRING: PushText(Kind::kString, Read<uint8_t>()); return true;
    case Op::BINSTRING: {
      const int32_t n = Read<int32_t>();
      VPR_CHECK(n >= 0, "negative string length ", n);
      PushText(Kind::kString, static_cast<size_t>(n));
      return true;
    }
    case Op::SHORT_BINBYTES: PushText(Kind::kBytes, Read<uint8_t>()); return true;
    case Op::BINBYTES: PushText(Kind::kBytes, Read<uint32_t>()); return true;
    case Op::BINBYTES8:
    case Op::BYTEARRAY8: PushText(Kind::kBytes, Read<uint64_t>()); return true;
    default: return false;
  }
}

bool Unpickler::StepContainer(Op op) {
  switch (op) {
    case Op::EMPTY_LIST:
    case Op::EMPTY_SET: Push(New(Kind::kList)); return true;  // sets become lists
    case Op::EMPTY_TUPLE: Push(New(Kind::kTuple)); return true;
    case Op::EMPTY_DICT: Push(New(Kind::kDict)); return true;
    case Op::LIST:
    case Op::FROZENSET: Push(NewList(PopMark())); return true;
    case Op::TUPLE: Push(NewList(PopMark(), Kind::kTuple)); return true;
    case Op::TUPLE1:
    case Op::TUPLE2:
    case Op::TUPLE3: {
      const size_t n = static_cast<size_t>(op) - static_cast<size_t>(Op::TUPLE1) + 1;
      VPR_CHECK(Available() >= n, "stack underflow");
      Args items(stack_.end() - n, stack_.end());
      stack_.resize(stack_.size() - n);
      Push(NewList(std::move(items), Kind::kTuple));
      return true;
    }
    case Op::DICT: {
      Args items = PopMark();
      VPR_CHECK(items.size() % 2 == 0, "DICT with an odd number of keys and values");
      PyValuePtr dict = New(Kind::kDict);
      for (size_t i = 0; i < items.size(); i += 2) SetItem(dict, items[i], items[i + 1]);
      Push(dict);
      return true;
    }
    case Op::APPEND: {
      PyValuePtr v = Pop();
      Append(Top(), {v});
      return true;
    }
    case Op::APPENDS:
    case Op::ADDITEMS: {
      Args items = PopMark();
      Append(Top(), items);
      return true;
    }
    case Op::SETITEM: {
      PyValuePtr value = Pop();
      PyValuePtr key = Pop();
      SetItem(Top(), key, value);
      return true;
    }
    case Op::SETITEMS: {
      Args items = PopMark();
      VPR_CHECK(items.size() % 2 == 0, "SETITEMS with an odd number of keys and values");
      const PyValuePtr& target = Top();
      for (size_t i = 0; i < items.size(); i += 2) SetItem(target, items[i], items[i + 1]);
      return true;
    }
    default: return false;
  }
}

bool Unpickler::StepStack(Op op) {
  switch (op) {
    case Op::PROTO: {
      const int version = Read<uint8_t>();
      VPR_CHECK(version <= 5, "pickle protocol ", version, " is newer than 5 (unsupported)");
      return true;
    }
    case Op::FRAME: Read<uint64_t>(); return true;  // a buffering hint only
    case Op::MARK:
      VPR_CHECK(marks_.size() < kMaxStack, "more than ", kMaxStack, " open MARKs");
      marks_.push_back(stack_.size());
      return true;
    case Op::POP:
      if (Available() == 0 && !marks_.empty()) {
        marks_.pop_back();  // POP on an empty mark frame drops the mark, as Python does
      } else {
        Pop();
      }
      return true;
    case Op::POP_MARK: PopMark(); return true;
    case Op::DUP: Push(Top()); return true;
    case Op::PUT: Memoize(ParseDecimal(Line(), "PUT index")); return true;
    case Op::BINPUT: Memoize(Read<uint8_t>()); return true;
    case Op::LONG_BINPUT: Memoize(Read<uint32_t>()); return true;
    case Op::MEMOIZE: Memoize(static_cast<int64_t>(memo_.size())); return true;
    case Op::GET: Recall(ParseDecimal(Line(), "GET index")); return true;
    case Op::BINGET: Recall(Read<uint8_t>()); return true;
    case Op::LONG_BINGET: Recall(Read<uint32_t>()); return true;
    default: return false;
  }
}

bool Unpickler::StepObject(Op op) {
  switch (op) {
    case Op::GLOBAL: {
      const std::string module(Line());
      PushGlobal(module, std::string(Line()));
      return true;
    }
    case Op::STACK_GLOBAL: {
      PyValuePtr name = Pop();
      PyValuePtr module = Pop();
      VPR_CHECK(module->kind == Kind::kString && name->kind == Kind::kString,
                "STACK_GLOBAL needs two strings, got ", module->Describe(), " and ",
                name->Describe());
      PushGlobal(module->text, name->text);
      return true;
    }
    case Op::REDUCE: {
      PyValuePtr args = Pop();
      PyValuePtr callee = Pop();
      VPR_CHECK(args->kind == Kind::kTuple, "REDUCE arguments must be a tuple, got ",
                args->Describe());
      Push(Call(callee, args->items));
      return true;
    }
    case Op::BUILD: {
      PyValuePtr state = Pop();
      Build(Top(), state);
      return true;
    }
    case Op::NEWOBJ: {
      PyValuePtr args = Pop();
      PyValuePtr cls = Pop();
      Push(NewObject(cls, args));
      return true;
    }
    case Op::NEWOBJ_EX: {
      Pop();  // keyword arguments: no class we build takes any
      PyValuePtr args = Pop();
      PyValuePtr cls = Pop();
      Push(NewObject(cls, args));
      return true;
    }
    case Op::INST: {
      const std::string module(Line());
      PushGlobal(module, std::string(Line()));
      PyValuePtr cls = Pop();
      Push(Call(cls, PopMark()));
      return true;
    }
    case Op::OBJ: {
      Args items = PopMark();
      VPR_CHECK(!items.empty(), "OBJ without a class");
      PyValuePtr cls = items.front();
      Push(Call(cls, Args(items.begin() + 1, items.end())));
      return true;
    }
    case Op::BINPERSID: Push(Persistent(Pop())); return true;
    case Op::PERSID: Push(Persistent(MakeText(Kind::kString, std::string(Line())))); return true;
    default: return false;
  }
}

void Unpickler::PushGlobal(const std::string& module, const std::string& name) {
  Push(MakeText(Kind::kGlobal, NormalizeModule(module) + "." + name));
}

// ---- Objects ----

const std::unordered_map<std::string, Unpickler::Handler>& Unpickler::Handlers() {
  static const std::unordered_map<std::string, Handler> handlers = {
      {"collections.OrderedDict", &Unpickler::CallDict},
      {"builtins.dict", &Unpickler::CallDict},
      {"collections.defaultdict", &Unpickler::CallEmptyDict},
      {"builtins.set", &Unpickler::CallSet},
      {"builtins.frozenset", &Unpickler::CallSet},
      {"builtins.bytes", &Unpickler::CallBytes},
      {"builtins.bytearray", &Unpickler::CallBytes},
      {"_codecs.encode", &Unpickler::CallEncode},
      {"torch._utils._rebuild_tensor", &Unpickler::CallRebuildTensor},
      {"torch._utils._rebuild_tensor_v2", &Unpickler::CallRebuildTensor},
      {"torch._utils._rebuild_parameter", &Unpickler::CallParameter},
      {"torch._utils._rebuild_parameter_with_state", &Unpickler::CallParameter},
      {"torch.nn.parameter.Parameter", &Unpickler::CallParameter},
      {"torch._tensor._rebuild_from_type", &Unpickler::CallFromType},
      {"torch._tensor._rebuild_from_type_v2", &Unpickler::CallFromType},
      {"torch.jit._pickle.restore_type_tag", &Unpickler::CallFirstArg},
      {"torch.jit._pickle.build_intlist", &Unpickler::CallBuildList},
      {"torch.jit._pickle.build_doublelist", &Unpickler::CallBuildList},
      {"torch.jit._pickle.build_boollist", &Unpickler::CallBuildList},
      {"torch.jit._pickle.build_tensorlist", &Unpickler::CallBuildList},
      {"torch.jit._pickle.build_genericlist", &Unpickler::CallBuildList},
      {"numpy.core.multiarray.scalar", &Unpickler::CallNumpyScalar},
      {"numpy._core.multiarray.scalar", &Unpickler::CallNumpyScalar},
      {"torch.Size", &Unpickler::CallSize},
      {"copyreg._reconstructor", &Unpickler::CallReconstruct},
      {"numpy.core.multiarray._reconstruct", &Unpickler::CallReconstruct},
      {"numpy._core.multiarray._reconstruct", &Unpickler::CallReconstruct},
  };
  return handlers;
}

// Known callables build plain values; anything else, or a known one whose arguments
// it cannot use, becomes an opaque value naming the callable.
PyValuePtr Unpickler::Call(const PyValuePtr& callee, const Args& args) {
  if (callee->kind == Kind::kOpaque) return NewOpaque(callee->text, args);
  VPR_CHECK(callee->kind == Kind::kGlobal, "cannot call ", callee->Describe());
  VPR_CHECK(call_depth_ < kMaxCallDepth, "calls nested more than ", kMaxCallDepth, " deep");
  auto it = Handlers().find(callee->text);
  if (it != Handlers().end()) {
    ++call_depth_;
    PyValuePtr result;
    try {
      result = (this->*it->second)(args);
    } catch (...) {
      --call_depth_;
      throw;
    }
    --call_depth_;
    if (result) return result;
  }
  return NewOpaque(callee->text, args);
}

PyValuePtr Unpickler::NewObject(const PyValuePtr& cls, const PyValuePtr& args) {
  VPR_CHECK(args->kind == Kind::kTuple, "NEWOBJ arguments must be a tuple, got ",
            args->Describe());
  VPR_CHECK(cls->kind == Kind::kGlobal || cls->kind == Kind::kOpaque,
            "NEWOBJ needs a class, got ", cls->Describe());
  const std::string& name = cls->text;
  if (name == "collections.OrderedDict" || name == "builtins.dict" ||
      name == "collections.defaultdict") {
    return New(Kind::kDict);  // cls.__new__ makes an empty one; SETITEMS fill it
  }
  if (name == "builtins.set" || name == "builtins.frozenset") return New(Kind::kList);
  return NewOpaque(name, args->items);
}

void Unpickler::Build(const PyValuePtr& target, const PyValuePtr& state) {
  switch (target->kind) {
    case Kind::kOpaque: target->state = state; return;
    // OrderedDict state (a state_dict's _metadata) and tensor attributes carry nothing
    // a reader of weights needs.
    case Kind::kDict:
    case Kind::kTensor: return;
    default: VPR_THROW("cannot BUILD (set the state of) ", target->Describe());
  }
}

PyValuePtr Unpickler::Persistent(const PyValuePtr& pid) {
  VPR_CHECK(load_, "persistent id ", pid->Describe(),
            " found, but the caller gave no persistent_load");
  PyValuePtr value = load_(pid);
  VPR_CHECK(value != nullptr, "persistent_load returned nothing for ", pid->Describe());
  if (HasChildren(*value)) owned_.push_back(value);
  return value;
}

// OrderedDict() / OrderedDict([(k, v), ...]) (Python 2 pickles pass the items) / dict(d).
PyValuePtr Unpickler::CallDict(const Args& args) {
  PyValuePtr dict = New(Kind::kDict);
  if (args.empty()) return dict;
  if (args.size() != 1) return nullptr;
  const PyValuePtr& source = args[0];
  if (source->kind == Kind::kDict) {
    Charge(source->entries.size());
    for (const auto& [key, value] : source->entries) SetItem(dict, key, value);
    return dict;
  }
  if (source->kind != Kind::kList && source->kind != Kind::kTuple) return nullptr;
  Charge(source->items.size());
  for (const auto& pair : source->items) {
    VPR_CHECK((pair->kind == Kind::kList || pair->kind == Kind::kTuple) &&
                  pair->items.size() == 2,
              "dict item must be a (key, value) pair, got ", pair->Describe());
    SetItem(dict, pair->items[0], pair->items[1]);
  }
  return dict;
}

PyValuePtr Unpickler::CallSet(const Args& args) {
  if (args.empty()) return New(Kind::kList);
  if (args.size() == 1 && (args[0]->kind == Kind::kList || args[0]->kind == Kind::kTuple)) {
    return CopyList(args[0]->items);
  }
  return nullptr;
}

// bytes() / bytearray() / bytearray(b'..') / bytearray('..', 'latin-1').
PyValuePtr Unpickler::CallBytes(const Args& args) {
  if (args.empty()) return MakeText(Kind::kBytes, "");
  if (args.size() == 1 && args[0]->kind == Kind::kBytes) {
    return MakeText(Kind::kBytes, args[0]->text);
  }
  if (args.size() == 2) return CallEncode(args);
  return nullptr;
}

// _codecs.encode(text, 'latin1'): protocol 2's spelling of a bytes object.
PyValuePtr Unpickler::CallEncode(const Args& args) {
  if (args.size() != 2 || args[0]->kind != Kind::kString || args[1]->kind != Kind::kString) {
    return nullptr;
  }
  const std::string encoding = Lower(args[1]->text);
  if (encoding != "latin1" && encoding != "latin-1") return nullptr;
  return MakeText(Kind::kBytes, Latin1FromUtf8(args[0]->text));
}

// _rebuild_tensor(storage, offset, size, stride) and _rebuild_tensor_v2(..., requires_grad,
// backward_hooks[, metadata]): a strided view of the storage, in the storage's dtype.
PyValuePtr Unpickler::CallRebuildTensor(const Args& args) {
  if (args.size() < 4 || args[0]->kind != Kind::kStorage || !args[0]->tensor.defined()) {
    return nullptr;  // e.g. a storage type this reader does not know: opaque
  }
  const at::Tensor& storage = args[0]->tensor;
  const int64_t offset = AsInt(args[1], "tensor storage offset");
  const std::vector<int64_t> size = AsIntTuple(args[2], "tensor size");
  const std::vector<int64_t> stride = AsIntTuple(args[3], "tensor stride");
  CheckView(storage.numel(), offset, size, stride);
  PyValuePtr v = MakeScalar(Kind::kTensor);
  v->tensor = storage.as_strided(size, stride, storage.storage_offset() + offset);
  return v;
}

// A Parameter is its tensor; requires_grad and hooks do not matter for reading weights.
PyValuePtr Unpickler::CallParameter(const Args& args) {
  if (args.empty() || args[0]->kind != Kind::kTensor) return nullptr;
  return args[0];
}

// Tensor subclasses: _rebuild_from_type_v2(func, type, args, state) is func(*args).
PyValuePtr Unpickler::CallFromType(const Args& args) {
  if (args.size() < 3 || args[2]->kind != Kind::kTuple) return nullptr;
  return Call(args[0], args[2]->items);
}

PyValuePtr Unpickler::CallBuildList(const Args& args) {
  if (args.size() != 1 || args[0]->kind != Kind::kList) return nullptr;
  return args[0];
}

// numpy.core.multiarray.scalar(dtype, raw bytes): a numpy scalar such as best_score.
PyValuePtr Unpickler::CallNumpyScalar(const Args& args) {
  std::string code;
  char order = '=';
  if (args.size() != 2 || args[1]->kind != Kind::kBytes || !NumpyDtype(args[0], &code, &order)) {
    return nullptr;
  }
  return NumpyScalarValue(code, order, args[1]->text);
}

PyValuePtr Unpickler::CallSize(const Args& args) {
  if (args.size() != 1 || (args[0]->kind != Kind::kTuple && args[0]->kind != Kind::kList)) {
    return nullptr;
  }
  return CopyList(args[0]->items, Kind::kTuple);
}

// copyreg._reconstructor(cls, base, state) and numpy's _reconstruct(cls, shape, dtype)
// make an instance of cls: name the opaque value after it.
PyValuePtr Unpickler::CallReconstruct(const Args& args) {
  if (args.empty() || args[0]->kind != Kind::kGlobal) return nullptr;
  return NewOpaque(args[0]->text, Args(args.begin() + 1, args.end()));
}

// ---- Graph checks and teardown ----

void Unpickler::CheckGraph(const PyValuePtr& v, int depth) {
  if (!HasChildren(*v)) return;
  auto [it, inserted] = visited_.try_emplace(v.get(), false);
  if (!inserted) {
    VPR_CHECK(it->second, "the pickle contains a reference cycle (", v->Describe(),
              " contains itself), which checkpoints never need");
    return;
  }
  VPR_CHECK(depth < kMaxNesting, "values nested more than ", kMaxNesting, " deep");
  for (const auto& item : v->items) CheckGraph(item, depth + 1);
  for (const auto& [key, value] : v->entries) {
    CheckGraph(key, depth + 1);
    CheckGraph(value, depth + 1);
  }
  if (v->state) CheckGraph(v->state, depth + 1);
  visited_[v.get()] = true;
}

// Empties every container the result does not hold, so that cycles among them are
// broken and freeing them never recurses deeply.
void Unpickler::ReleaseGraph() {
  for (const PyValuePtr& v : owned_) {
    if (graph_ok_ && visited_.count(v.get())) continue;
    v->items.clear();
    v->entries.clear();
    v->state.reset();
  }
}

PyValuePtr Unpickler::Run(size_t* consumed) {
  VPR_CHECK(size_ > 0, "truncated: no data where a pickle should start");
  while (true) {
    VPR_CHECK(pos_ < size_, "truncated: the data ends at byte ", size_,
              " before the pickle's STOP opcode");
    const size_t at = pos_;
    const uint8_t code = static_cast<uint8_t>(data_[pos_++]);
    try {
      if (!Step(code)) break;
    } catch (const c10::Error& e) {
      VPR_THROW("pickle error at byte ", at, " (opcode ", OpName(code),
                "): ", e.what_without_backtrace());
    } catch (const std::exception& e) {
      VPR_THROW("pickle error at byte ", at, " (opcode ", OpName(code), "): ", e.what());
    }
  }
  PyValuePtr result;
  try {
    result = Pop();
    CheckGraph(result, 0);
  } catch (const std::exception& e) {
    VPR_THROW("pickle error at STOP (byte ", pos_ - 1, "): ", e.what());
  }
  graph_ok_ = true;
  if (consumed) *consumed = pos_;
  return result;
}

}  // namespace

PyValuePtr PyValue::Get(const std::string& key) const {
  if (kind != Kind::kDict) return nullptr;
  for (const auto& [k, v] : entries) {
    if (k->kind == Kind::kString && k->text == key) return v;
  }
  return nullptr;
}

std::string PyValue::Describe() const {
  switch (kind) {
    case Kind::kNone: return "None";
    case Kind::kBool: return boolean ? "bool True" : "bool False";
    case Kind::kInt: return "int " + std::to_string(integer);
    case Kind::kFloat: return internal::Concat("float ", real);
    case Kind::kString:
      return "str '" + text.substr(0, 60) + (text.size() > 60 ? "...'" : "'");
    case Kind::kBytes: return "bytes of " + std::to_string(text.size());
    case Kind::kList: return "list of " + std::to_string(items.size());
    case Kind::kTuple: return "tuple of " + std::to_string(items.size());
    case Kind::kDict: return "dict of " + std::to_string(entries.size());
    case Kind::kTensor:
      if (!tensor.defined()) return "tensor (undefined)";
      return "tensor " + DtypeName(tensor.scalar_type()) + ShapeText(tensor.sizes());
    case Kind::kStorage:
      if (!tensor.defined()) return "storage (undefined)";
      return "storage " + DtypeName(tensor.scalar_type()) + " of " + std::to_string(tensor.numel());
    case Kind::kGlobal: return "global " + text;
    case Kind::kOpaque: return "opaque " + text;
  }
  return "?";
}

PyValuePtr Unpickle(const char* data, size_t size, size_t* consumed,
                    const PersistentLoad& persistent_load) {
  Unpickler unpickler(data, size, persistent_load);
  return unpickler.Run(consumed);
}

}  // namespace vpr
