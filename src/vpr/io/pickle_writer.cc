#include "vpr/io/pickle_writer.h"

#include <caffe2/serialize/inline_container.h>

#include <cstring>

#include "vpr/util/check.h"

namespace vpr {
namespace {

// Pickle protocol 2 opcodes (Python's Lib/pickletools.py).
constexpr char kProto = '\x80', kStop = '.', kMark = '(', kGlobal = 'c', kReduce = 'R', kTuple = 't',
               kEmptyTuple = ')', kEmptyDict = '}', kSetItems = 'u', kEmptyList = ']', kAppends = 'e',
               kBinUnicode = 'X', kBinInt = 'J', kLong1 = '\x8a', kBinFloat = 'G', kTrue = '\x88',
               kFalse = '\x89', kNone = 'N', kBinPersId = 'Q';

const char* StorageClass(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return "FloatStorage";
    case at::kDouble: return "DoubleStorage";
    case at::kHalf: return "HalfStorage";
    case at::kBFloat16: return "BFloat16Storage";
    case at::kLong: return "LongStorage";
    case at::kInt: return "IntStorage";
    case at::kShort: return "ShortStorage";
    case at::kChar: return "CharStorage";
    case at::kByte: return "ByteStorage";
    case at::kBool: return "BoolStorage";
    default: VPR_THROW("cannot save a tensor of type ", at::toString(type), " in a checkpoint");
  }
}

class Pickler {
 public:
  Pickler() { out_ += {kProto, '\x02'}; }

  void Op(char op) { out_ += op; }
  void Global(const std::string& module, const std::string& name) { out_ += kGlobal + module + '\n' + name + '\n'; }

  void String(const std::string& s) {
    VPR_CHECK(s.size() <= UINT32_MAX, "a string of ", s.size(), " bytes cannot be pickled");
    Op(kBinUnicode);
    Raw(static_cast<uint32_t>(s.size()));
    out_ += s;
  }

  void Int(int64_t v) {
    if (v >= INT32_MIN && v <= INT32_MAX) {
      Op(kBinInt);
      Raw(static_cast<int32_t>(v));
    } else {
      Op(kLong1);
      out_ += '\x08';
      Raw(v);  // little-endian two's complement, as LONG1 wants
    }
  }

  void Float(double v) {
    Op(kBinFloat);
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    bits = __builtin_bswap64(bits);  // BINFLOAT is big-endian
    Raw(bits);
  }

  void Json(const nlohmann::json& j, const std::string& where) {
    using T = nlohmann::json::value_t;
    switch (j.type()) {
      case T::null: return Op(kNone);
      case T::boolean: return Op(j.get<bool>() ? kTrue : kFalse);
      case T::number_integer: return Int(j.get<int64_t>());
      case T::number_unsigned: {
        const auto u = j.get<uint64_t>();
        VPR_CHECK(u <= uint64_t{INT64_MAX}, "checkpoint info '", where, "' = ", u, " does not fit in int64");
        return Int(static_cast<int64_t>(u));
      }
      case T::number_float: return Float(j.get<double>());
      case T::string: return String(j.get<std::string>());
      case T::array: {
        Op(kEmptyList);
        if (j.empty()) return;
        Op(kMark);
        for (size_t i = 0; i < j.size(); ++i) Json(j[i], where + "[" + std::to_string(i) + "]");
        return Op(kAppends);
      }
      case T::object: {
        Op(kEmptyDict);
        if (j.empty()) return;
        Op(kMark);
        for (const auto& [key, value] : j.items()) {
          String(key);
          Json(value, where + "." + key);
        }
        return Op(kSetItems);
      }
      default: VPR_THROW("checkpoint info '", where, "' has a type that cannot be saved (binary?)");
    }
  }

  // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)
  // with the storage a persistent id ('storage', torch.<T>Storage, key, 'cpu', numel).
  void Tensor(const at::Tensor& t, const std::string& key) {
    Global("torch._utils", "_rebuild_tensor_v2");
    Op(kMark);
    Op(kMark);
    String("storage");
    Global("torch", StorageClass(t.scalar_type()));
    String(key);
    String("cpu");
    Int(t.numel());
    Op(kTuple);
    Op(kBinPersId);
    Int(0);
    Ints(t.sizes());
    Ints(t.strides());
    Op(kFalse);
    EmptyOrderedDict();
    Op(kTuple);
    Op(kReduce);
  }

  void EmptyOrderedDict() {
    Global("collections", "OrderedDict");
    Op(kEmptyTuple);
    Op(kReduce);
  }

  std::string Finish() {
    Op(kStop);
    return std::move(out_);
  }

 private:
  template <typename T>
  void Raw(T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));  // little-endian host
    out_.append(b, sizeof(T));
  }

  void Ints(at::IntArrayRef values) {
    Op(kMark);
    for (int64_t v : values) Int(v);
    Op(kTuple);
  }

  std::string out_;
};

}  // namespace

std::string TorchZipBytes(const std::vector<std::pair<std::string, at::Tensor>>& state_dict,
                          const nlohmann::json& info) {
  Pickler p;
  p.Op(kEmptyDict);
  p.Op(kMark);
  p.String("state_dict");
  p.EmptyOrderedDict();
  if (!state_dict.empty()) {
    p.Op(kMark);
    for (size_t i = 0; i < state_dict.size(); ++i) {
      p.String(state_dict[i].first);
      p.Tensor(state_dict[i].second, std::to_string(i));
    }
    p.Op(kSetItems);
  }
  if (info.is_object()) {
    for (const auto& [key, value] : info.items()) {
      p.String(key);
      p.Json(value, key);
    }
  }
  p.Op(kSetItems);
  const std::string pickle = p.Finish();

  std::string bytes;
  caffe2::serialize::PyTorchStreamWriter writer([&bytes](const void* data, size_t n) {
    bytes.append(static_cast<const char*>(data), n);
    return n;
  });
  writer.writeRecord("data.pkl", pickle.data(), pickle.size());
  for (size_t i = 0; i < state_dict.size(); ++i) {
    const at::Tensor& t = state_dict[i].second;
    VPR_CHECK(t.device().is_cpu() && t.is_contiguous(), "internal: tensor '", state_dict[i].first,
              "' must be CPU and contiguous to be saved");
    writer.writeRecord("data/" + std::to_string(i), t.data_ptr(), t.numel() * t.element_size());
  }
  writer.writeEndOfFile();
  return bytes;
}

}  // namespace vpr
