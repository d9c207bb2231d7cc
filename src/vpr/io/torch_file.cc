#include "vpr/io/torch_file.h"

#include <ATen/core/Dict.h>
#include <ATen/core/ivalue.h>
#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/read_adapter_interface.h>
#include <torch/serialize.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>

#include "vpr/io/pickle_writer.h"
#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"
#include "vpr/util/logging.h"

namespace vpr {

namespace {

using Kind = PyValue::Kind;

// The first pickle of a legacy file is this int; torch.load checks it the same way.
constexpr uint8_t kLegacyMagic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
constexpr int64_t kLegacyProtocolVersion = 1001;

// ---- Storage types ----

struct StorageType {
  std::string name;  // the pickled global, e.g. "torch.cuda.FloatStorage"
  at::ScalarType dtype;
  int64_t element_size;
  bool supported;  // quantized storages are read past but not built
};

// Maps torch.FloatStorage, torch.cuda.FloatStorage, torch.UntypedStorage, ...
std::optional<StorageType> FindStorageType(const PyValuePtr& global) {
  static const std::map<std::string, std::pair<at::ScalarType, bool>> kTypes = {
      {"Float", {at::kFloat, true}},        {"Double", {at::kDouble, true}},
      {"Half", {at::kHalf, true}},          {"BFloat16", {at::kBFloat16, true}},
      {"Long", {at::kLong, true}},          {"Int", {at::kInt, true}},
      {"Short", {at::kShort, true}},        {"Char", {at::kChar, true}},
      {"Byte", {at::kByte, true}},          {"Bool", {at::kBool, true}},
      {"ComplexFloat", {at::kComplexFloat, true}},
      {"ComplexDouble", {at::kComplexDouble, true}},
      {"Untyped", {at::kByte, true}},       {"QInt8", {at::kQInt8, false}},
      {"QUInt8", {at::kQUInt8, false}},     {"QInt32", {at::kQInt32, false}},
      {"QUInt4x2", {at::kQUInt4x2, false}}, {"QUInt2x4", {at::kQUInt2x4, false}},
  };
  if (global->kind != Kind::kGlobal || global->text.rfind("torch.", 0) != 0) return std::nullopt;
  std::string cls = global->text.substr(global->text.rfind('.') + 1);
  cls.erase(0, cls.find_first_not_of('_'));  // torch._UntypedStorage in 1.11/1.12
  const std::string suffix = "Storage";
  if (cls.size() <= suffix.size() ||
      cls.compare(cls.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return std::nullopt;
  }
  auto it = kTypes.find(cls.substr(0, cls.size() - suffix.size()));
  if (it == kTypes.end()) return std::nullopt;
  const auto [dtype, supported] = it->second;
  return StorageType{global->text, dtype, static_cast<int64_t>(c10::elementSize(dtype)), supported};
}

PyValuePtr MakeStorage(at::Tensor data) {
  auto v = std::make_shared<PyValue>();
  v->kind = Kind::kStorage;
  v->tensor = std::move(data);
  return v;
}

// Storages of a type this reader cannot build: tensors on them become opaque too.
PyValuePtr MakeOpaqueStorage(const std::string& type_name) {
  auto v = std::make_shared<PyValue>();
  v->kind = Kind::kOpaque;
  v->text = type_name;
  return v;
}

// What a ('storage', type, key, location, numel[, view]) persistent id says.
struct StorageRef {
  std::optional<StorageType> type;
  std::string type_text;
  std::string key;
  std::string location;
  int64_t numel = 0;
  PyValuePtr view;  // legacy only: None or (view_key, offset, view_numel)
};

std::string KeyText(const PyValuePtr& key) {
  if (key->kind == Kind::kString) return key->text;
  if (key->kind == Kind::kInt) return std::to_string(key->integer);
  VPR_THROW("storage key must be a string, got ", key->Describe());
}

StorageRef ParseStorageId(const PyValuePtr& pid, size_t fields) {
  VPR_CHECK(pid->kind == Kind::kTuple && pid->items.size() == fields &&
                pid->items[0]->kind == Kind::kString && pid->items[0]->text == "storage",
            "persistent id should be a ('storage', type, key, location, numel",
            fields == 6 ? ", view)" : ")", " tuple, got ", pid->Describe());
  StorageRef ref;
  ref.type = FindStorageType(pid->items[1]);
  ref.type_text = pid->items[1]->Describe();
  ref.key = KeyText(pid->items[2]);
  if (pid->items[3]->kind == Kind::kString) ref.location = pid->items[3]->text;
  VPR_CHECK(pid->items[4]->kind == Kind::kInt && pid->items[4]->integer >= 0,
            "storage '", ref.key, "' has a bad element count: ", pid->items[4]->Describe());
  ref.numel = pid->items[4]->integer;
  if (fields == 6) ref.view = pid->items[5];
  return ref;
}

int64_t StorageBytes(const StorageRef& ref) {
  int64_t nbytes = 0;
  VPR_CHECK(!__builtin_mul_overflow(ref.numel, ref.type->element_size, &nbytes), "storage '",
            ref.key, "' of ", ref.numel, " elements is impossibly large");
  return nbytes;
}

void NoteLocation(const std::string& location) {
  if (!location.empty() && location != "cpu") {
    Log().debug("storage saved on '{}' is loaded on the CPU", location);
  }
}

// ---- Zip format (PyTorch >= 1.6) ----

// Like caffe2's MemoryReadAdapter, but never reads past the buffer.
class BufferReadAdapter : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit BufferReadAdapter(const std::string& bytes) : bytes_(bytes) {}
  size_t size() const override { return bytes_.size(); }
  size_t read(uint64_t pos, void* buf, size_t n, const char* /*what*/) const override {
    if (pos >= bytes_.size()) return 0;
    n = static_cast<size_t>(std::min<uint64_t>(n, bytes_.size() - pos));
    std::memcpy(buf, bytes_.data() + pos, n);
    return n;
  }

 private:
  const std::string& bytes_;
};

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

class ZipStorages {
 public:
  explicit ZipStorages(caffe2::serialize::PyTorchStreamReader& reader) : reader_(reader) {}
  PyValuePtr Load(const PyValuePtr& pid);

 private:
  at::Tensor ReadRecord(const StorageRef& ref);

  caffe2::serialize::PyTorchStreamReader& reader_;
  std::map<std::string, PyValuePtr> storages_;
};

PyValuePtr ZipStorages::Load(const PyValuePtr& pid) {
  const StorageRef ref = ParseStorageId(pid, 5);
  if (!ref.type || !ref.type->supported) return MakeOpaqueStorage(ref.type_text);
  auto it = storages_.find(ref.key);
  if (it != storages_.end()) {
    VPR_CHECK(it->second->tensor.scalar_type() == ref.type->dtype, "storage '", ref.key,
              "' is used both as ", it->second->Describe(), " and as ", ref.type->name);
    return it->second;
  }
  NoteLocation(ref.location);
  PyValuePtr storage = MakeStorage(ReadRecord(ref));
  storages_.emplace(ref.key, storage);
  return storage;
}

// The record's bytes become the tensor's memory (no copy).
at::Tensor ZipStorages::ReadRecord(const StorageRef& ref) {
  const std::string record = "data/" + ref.key;
  VPR_CHECK(reader_.hasRecord(record), "record '", record, "' (storage '", ref.key, "', ",
            ref.type->name, ") is missing from the archive: the file is incomplete; re-save it");
  const int64_t nbytes = StorageBytes(ref);
  at::DataPtr data;
  size_t size = 0;
  try {
    std::tie(data, size) = reader_.getRecord(record);
  } catch (const c10::Error& e) {
    VPR_THROW("cannot read record '", record, "': ", FirstLine(e.what_without_backtrace()));
  }
  VPR_CHECK(static_cast<uint64_t>(size) >= static_cast<uint64_t>(nbytes), "record '", record,
            "' holds ", size, " bytes but its storage needs ", nbytes, " (", ref.numel, " x ",
            ref.type->element_size, "): the file is corrupt");
  auto options = at::TensorOptions().dtype(ref.type->dtype);
  if (ref.numel == 0) return at::empty({0}, options);
  at::Storage storage(at::Storage::use_byte_size_t(), size, std::move(data), nullptr, false);
  return at::empty({0}, options).set_(storage, 0, {ref.numel}, {1});
}

// Files written since PyTorch 2.1 say their byte order; older ones are little-endian.
void CheckByteOrder(caffe2::serialize::PyTorchStreamReader& reader) {
  if (!reader.hasRecord("byteorder")) return;
  auto [data, size] = reader.getRecord("byteorder");
  std::string order(static_cast<const char*>(data.get()), size);
  order.erase(order.find_last_not_of(" \n\r\t") + 1);
  VPR_CHECK(order == "little", "the file was saved with byte order '", order,
            "'; only 'little' is supported: load and re-save it on a little-endian machine");
}

TorchFile LoadZip(caffe2::serialize::PyTorchStreamReader& reader) {
  CheckByteOrder(reader);
  VPR_CHECK(reader.hasRecord("data.pkl"),
            "the zip archive has no data.pkl record, so torch.save did not write it (a "
            "TorchScript archive? load it in Python and torch.save its state_dict)");
  auto [data, size] = reader.getRecord("data.pkl");
  ZipStorages storages(reader);
  const PersistentLoad load = [&](const PyValuePtr& pid) { return storages.Load(pid); };
  size_t consumed = 0;
  try {
    return TorchFile{Unpickle(static_cast<const char*>(data.get()), size, &consumed, load), "zip"};
  } catch (const Error& e) {
    VPR_THROW("data.pkl: ", e.what());
  }
}

// Runs `load` with PyTorchStreamReader's c10::Errors (bad archive) turned into ours.
template <typename Open>
TorchFile LoadZipWith(const Open& open, const std::string& name) {
  try {
    auto reader = open();
    return LoadZip(*reader);
  } catch (const c10::Error& e) {
    VPR_THROW(name, ": not a readable PyTorch zip archive (truncated or corrupt?): ",
              FirstLine(e.what_without_backtrace()));
  } catch (const Error& e) {
    VPR_THROW(name, ": ", e.what());
  }
}

// ---- Legacy format (before PyTorch 1.6, or _use_new_zipfile_serialization=False) ----

// Storages are created when the pickle first names them and filled from the raw data
// section that follows the pickles; tensors are views that see the data once it is in.
class LegacyStorages {
 public:
  explicit LegacyStorages(size_t file_size) : file_size_(file_size) {}
  PyValuePtr Load(const PyValuePtr& pid);
  void ReadData(const PyValuePtr& keys, const std::string& bytes, size_t* pos);

 private:
  struct Root {
    StorageType type;
    int64_t numel = 0;
    PyValuePtr value;  // kStorage, or opaque for unsupported types
    bool filled = false;
  };
  Root& FindOrCreateRoot(const StorageRef& ref);
  PyValuePtr View(const Root& root, const StorageRef& ref);
  void ReadOne(const std::string& key, const std::string& bytes, size_t* pos);

  size_t file_size_;
  uint64_t total_bytes_ = 0;  // of all roots, which the data section must hold
  std::map<std::string, Root> roots_;
  std::map<std::string, PyValuePtr> views_;
};

PyValuePtr LegacyStorages::Load(const PyValuePtr& pid) {
  if (pid->kind == Kind::kTuple && pid->items.size() == 4 &&
      pid->items[0]->kind == Kind::kString && pid->items[0]->text == "module") {
    return pid->items[1];  // ('module', class, file, source) of a whole pickled nn.Module
  }
  const StorageRef ref = ParseStorageId(pid, 6);
  VPR_CHECK(ref.type.has_value(), "storage '", ref.key, "' has unknown type ", ref.type_text,
            "; its size in the data section cannot be known");
  Root& root = FindOrCreateRoot(ref);
  if (ref.view->kind == Kind::kNone) return root.value;
  return View(root, ref);
}

LegacyStorages::Root& LegacyStorages::FindOrCreateRoot(const StorageRef& ref) {
  auto it = roots_.find(ref.key);
  if (it != roots_.end()) {
    VPR_CHECK(it->second.type.dtype == ref.type->dtype && it->second.numel == ref.numel,
              "storage '", ref.key, "' is named both as ", it->second.type.name, " of ",
              it->second.numel, " and as ", ref.type->name, " of ", ref.numel);
    return it->second;
  }
  // The data must be in the file, which bounds what corrupt counts can allocate.
  total_bytes_ += static_cast<uint64_t>(StorageBytes(ref));
  VPR_CHECK(total_bytes_ <= file_size_, "storage '", ref.key, "' (", ref.numel,
            " elements of ", ref.type->element_size, " bytes) brings the storages to ",
            total_bytes_, " bytes, more than the whole file (", file_size_,
            " bytes): the file is truncated or corrupt");
  NoteLocation(ref.location);
  Root root{*ref.type, ref.numel, nullptr, false};
  root.value = ref.type->supported
                   ? MakeStorage(at::empty({ref.numel}, at::TensorOptions().dtype(ref.type->dtype)))
                   : MakeOpaqueStorage(ref.type->name);
  return roots_.emplace(ref.key, std::move(root)).first->second;
}

// Storage views (PyTorch < 0.4): a slice of a root storage.
PyValuePtr LegacyStorages::View(const Root& root, const StorageRef& ref) {
  const PyValuePtr& view = ref.view;
  VPR_CHECK(view->kind == Kind::kTuple && view->items.size() == 3 &&
                view->items[1]->kind == Kind::kInt && view->items[2]->kind == Kind::kInt,
            "storage '", ref.key, "' view should be (key, offset, numel), got ", view->Describe());
  const std::string key = KeyText(view->items[0]);
  const int64_t offset = view->items[1]->integer;
  const int64_t numel = view->items[2]->integer;
  VPR_CHECK(offset >= 0 && numel >= 0 && offset <= root.numel && numel <= root.numel - offset,
            "storage view '", key, "' (offset ", offset, ", ", numel,
            " elements) lies outside its storage '", ref.key, "' of ", root.numel, " elements");
  auto it = views_.find(key);
  if (it != views_.end()) return it->second;
  PyValuePtr value = root.value->kind == Kind::kStorage
                         ? MakeStorage(root.value->tensor.narrow(0, offset, numel))
                         : root.value;
  views_.emplace(key, value);
  return value;
}

void LegacyStorages::ReadData(const PyValuePtr& keys, const std::string& bytes, size_t* pos) {
  VPR_CHECK(keys->kind == Kind::kList, "the storage key list is ", keys->Describe(),
            ", not a list");
  for (const PyValuePtr& key : keys->items) ReadOne(KeyText(key), bytes, pos);
  for (const auto& [key, root] : roots_) {
    VPR_CHECK(root.filled, "storage '", key, "' (", root.type.name,
              ") is used by the pickle but absent from the data section: the file is "
              "incomplete");
  }
}

// One storage in the data section: int64 element count, then the raw elements.
void LegacyStorages::ReadOne(const std::string& key, const std::string& bytes, size_t* pos) {
  auto it = roots_.find(key);
  VPR_CHECK(it != roots_.end(), "the data section lists storage '", key,
            "', which the pickle never uses: the file is corrupt");
  Root& root = it->second;
  VPR_CHECK(!root.filled, "the data section lists storage '", key, "' twice");
  VPR_CHECK(bytes.size() - *pos >= 8, "truncated: the file ends at byte ", bytes.size(),
            ", inside the header of storage '", key, "' (byte ", *pos, ")");
  int64_t numel = 0;
  std::memcpy(&numel, bytes.data() + *pos, 8);
  VPR_CHECK(numel == root.numel, "storage '", key, "' at byte ", *pos, " holds ", numel,
            " elements but the pickle says ", root.numel, ": the file is corrupt");
  *pos += 8;
  const uint64_t nbytes = static_cast<uint64_t>(numel) * root.type.element_size;
  VPR_CHECK(nbytes <= bytes.size() - *pos, "truncated: storage '", key, "' needs ", nbytes,
            " bytes from byte ", *pos, " but the file ends at byte ", bytes.size());
  if (root.value->kind == Kind::kStorage && nbytes > 0) {
    std::memcpy(root.value->tensor.data_ptr(), bytes.data() + *pos, nbytes);
  }
  *pos += nbytes;
  root.filled = true;
}

// The magic number is wider than Unpickle's int64, so its pickle (PROTO, maybe FRAME,
// LONG1 of 10 bytes, STOP) is matched byte by byte. Returns the offset after it.
size_t SkipLegacyMagic(const std::string& bytes) {
  size_t pos = 0;
  auto byte = [&](size_t i) { return pos + i < bytes.size() ? uint8_t(bytes[pos + i]) : -1; };
  if (byte(0) == 0x80) pos += 2;  // PROTO n
  if (byte(0) == 0x95) pos += 9;  // FRAME length
  const size_t need = pos + 3 + sizeof(kLegacyMagic);
  VPR_CHECK(bytes.size() >= need, "truncated: ", bytes.size(),
            " bytes are too few for the header of a torch.save file");
  VPR_CHECK(byte(0) == 0x8a && byte(1) == sizeof(kLegacyMagic) &&
                std::memcmp(bytes.data() + pos + 2, kLegacyMagic, sizeof(kLegacyMagic)) == 0 &&
                byte(2 + sizeof(kLegacyMagic)) == '.',
            "not a PyTorch file: it is neither a zip archive nor a legacy torch.save file "
            "(which starts with the pickled magic number 0x1950a86a20f9469cfc6c)");
  return need;
}

PyValuePtr NextPickle(const std::string& bytes, size_t* pos, const char* what,
                      const PersistentLoad& load) {
  VPR_CHECK(*pos < bytes.size(), "truncated: the file ends at byte ", bytes.size(),
            " where the ", what, " should start");
  size_t consumed = 0;
  try {
    PyValuePtr value = Unpickle(bytes.data() + *pos, bytes.size() - *pos, &consumed, load);
    *pos += consumed;
    return value;
  } catch (const Error& e) {
    VPR_THROW("in the ", what, " (a pickle starting at byte ", *pos, "): ", e.what());
  }
}

void CheckSysInfo(const PyValuePtr& sys_info) {
  VPR_CHECK(sys_info->kind == Kind::kDict, "the sys_info pickle is ", sys_info->Describe(),
            ", not a dict: the file is corrupt");
  PyValuePtr little = sys_info->Get("little_endian");
  VPR_CHECK(!little || little->kind != Kind::kBool || little->boolean,
            "the file was saved on a big-endian machine; only little-endian files are "
            "supported: load and re-save it on a little-endian machine");
}

TorchFile LoadLegacy(const std::string& bytes) {
  size_t pos = SkipLegacyMagic(bytes);
  const PyValuePtr version = NextPickle(bytes, &pos, "protocol version", nullptr);
  VPR_CHECK(version->kind == Kind::kInt && version->integer == kLegacyProtocolVersion,
            "legacy protocol version is ", version->Describe(), ", expected ",
            kLegacyProtocolVersion);
  CheckSysInfo(NextPickle(bytes, &pos, "sys_info dict", nullptr));
  LegacyStorages storages(bytes.size());
  const PersistentLoad load = [&](const PyValuePtr& pid) { return storages.Load(pid); };
  TorchFile file{NextPickle(bytes, &pos, "saved object", load), "legacy"};
  storages.ReadData(NextPickle(bytes, &pos, "storage key list", nullptr), bytes, &pos);
  return file;
}

bool IsZip(const std::string& head) {
  return head.rfind("PK\x03\x04", 0) == 0 || head.rfind("PK\x05\x06", 0) == 0;  // empty zip
}

// Tar files have "ustar" at byte 257; torch.save wrote tar archives before PyTorch 0.4.
bool IsTar(const std::string& head) {
  return head.size() >= 262 && head.compare(257, 5, "ustar") == 0;
}

std::string ReadHead(const std::string& path, size_t n) {
  VPR_CHECK(!std::filesystem::is_directory(path), "'", path,
            "' is a folder; expected a file written by torch.save");
  std::ifstream in(path, std::ios::binary);
  VPR_CHECK(in, "cannot open '", path, "': ", std::strerror(errno));
  std::string head(n, '\0');
  in.read(head.data(), static_cast<std::streamsize>(n));
  head.resize(static_cast<size_t>(in.gcount()));
  return head;
}

// ---- State dict and info ----

bool IsStateDictCandidate(const PyValuePtr& v) {
  if (!v || v->kind != Kind::kDict) return false;
  return std::any_of(v->entries.begin(), v->entries.end(),
                     [](const auto& e) { return e.second->kind == Kind::kTensor; });
}

// "encoder.module.0.weight" -> "encoder.0.weight": DataParallel wrappers add "module.".
std::string StripModule(const std::string& key) {
  std::string out;
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('.', start);
    if (end == std::string::npos) end = key.size();
    const std::string part = key.substr(start, end - start);
    if (part != "module") out += (out.empty() ? "" : ".") + part;
    start = end + 1;
  }
  return out;
}

std::string TopLevelKeys(const PyValuePtr& root) {
  std::string out;
  for (const auto& [key, value] : root->entries) {
    if (out.size() > 200) return out + ", ...";
    const std::string name = key->kind == Kind::kString ? key->text : key->Describe();
    out += (out.empty() ? "'" : ", '") + name + "'";
  }
  return out.empty() ? "none" : out;
}

PyValuePtr FindStateDict(const PyValuePtr& root, const std::string& path) {
  VPR_CHECK(root->kind == Kind::kDict, path, ": holds ", root->Describe(),
            root->kind == Kind::kOpaque
                ? ", a whole pickled object rather than a state_dict; in Python, save "
                  "torch.save(model.state_dict(), path) instead"
                : ", not a dict with a state_dict");
  for (const char* name : {"state_dict", "model_state_dict", "model", "net"}) {
    PyValuePtr v = root->Get(name);
    if (IsStateDictCandidate(v) || (v && v->kind == Kind::kDict && v->entries.empty() &&
                                    std::string(name) == "state_dict")) {
      return v;
    }
  }
  VPR_CHECK(IsStateDictCandidate(root), path,
            ": no state_dict found (expected a 'state_dict' entry or a dict of tensors); "
            "top-level keys: ", TopLevelKeys(root));
  return root;
}

std::optional<nlohmann::json> ScalarJson(const PyValue& v) {
  switch (v.kind) {
    case Kind::kBool: return nlohmann::json(v.boolean);
    case Kind::kInt: return nlohmann::json(v.integer);
    case Kind::kFloat: return nlohmann::json(v.real);
    case Kind::kString: return nlohmann::json(v.text);
    default: return std::nullopt;
  }
}

// Plain values as JSON; tensors, bytes and opaque objects are left out. `budget` caps the
// values visited: shared sub-lists could otherwise expand exponentially.
std::optional<nlohmann::json> ToJson(const PyValue& v, size_t* budget) {
  if (*budget == 0) return std::nullopt;
  --*budget;
  if (v.kind == Kind::kNone) return nlohmann::json(nullptr);
  if (auto scalar = ScalarJson(v)) return scalar;
  if (v.kind == Kind::kList || v.kind == Kind::kTuple) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : v.items) {
      if (auto j = ToJson(*item, budget)) out.push_back(*j);
    }
    return out;
  }
  if (v.kind != Kind::kDict) return std::nullopt;
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [key, value] : v.entries) {
    auto name = ScalarJson(*key);
    auto j = ToJson(*value, budget);
    if (!name || !j) continue;
    out[name->is_string() ? name->get<std::string>() : name->dump()] = *j;
  }
  return out;
}

// A compact CPU copy when the tensor is a view or shares a larger storage, so the file
// holds just its elements.
at::Tensor CompactCpu(const at::Tensor& tensor) {
  at::Tensor t = tensor.detach().to(at::kCPU);
  const bool compact = t.is_contiguous() && t.storage_offset() == 0 &&
                       t.storage().nbytes() == static_cast<size_t>(t.numel()) * t.element_size();
  return compact ? t : t.clone(at::MemoryFormat::Contiguous);
}

}  // namespace

TorchFile LoadTorchBytes(const std::string& bytes, const std::string& name_for_errors) {
  const std::string& name = name_for_errors;
  VPR_CHECK(!bytes.empty(), name, ": the file is empty; expected a file written by torch.save");
  if (IsZip(bytes)) {
    return LoadZipWith(
        [&] {
          return std::make_unique<caffe2::serialize::PyTorchStreamReader>(
              std::make_shared<BufferReadAdapter>(bytes));
        },
        name);
  }
  VPR_CHECK(!IsTar(bytes), name,
            ": a tar-format checkpoint from PyTorch before 0.4, which this reader does not "
            "support; load it with an old PyTorch and re-save it with torch.save");
  try {
    return LoadLegacy(bytes);
  } catch (const Error& e) {
    VPR_THROW(name, ": ", e.what());
  }
}

TorchFile LoadTorchFile(const std::string& path) {
  if (IsZip(ReadHead(path, 4))) {
    return LoadZipWith(
        [&] { return std::make_unique<caffe2::serialize::PyTorchStreamReader>(path); }, path);
  }
  return LoadTorchBytes(ReadFileBytes(path), path);
}

StateDict ExtractStateDict(const TorchFile& file, const std::string& path_for_errors) {
  const std::string& path = path_for_errors;
  VPR_CHECK(file.root, path, ": nothing was loaded");
  const PyValuePtr dict = FindStateDict(file.root, path);
  StateDict out;
  std::set<std::string> seen;
  for (const auto& [key, value] : dict->entries) {
    VPR_CHECK(key->kind == Kind::kString, path, ": state_dict key ", key->Describe(),
              " is not a string");
    VPR_CHECK(value->kind == Kind::kTensor, path, ": state_dict entry '", key->text, "' is ",
              value->Describe(), ", not a tensor this reader can build");
    std::string name = StripModule(key->text);
    VPR_CHECK(seen.insert(name).second, path, ": state_dict keys collide as '", name,
              "' once 'module.' is removed");
    out.emplace_back(std::move(name), value->tensor);
  }
  return out;
}

nlohmann::json CheckpointInfo(const TorchFile& file) {
  nlohmann::json info = nlohmann::json::object();
  if (!file.root || file.root->kind != Kind::kDict) return info;
  for (const auto& [key, value] : file.root->entries) {
    if (key->kind != Kind::kString) continue;
    // The small dicts vpr itself writes: the model's options and its image size.
    if ((key->text == "vpr" || key->text == "resize") && value->kind == Kind::kDict) {
      size_t budget = 10000;
      info[key->text] = *ToJson(*value, &budget);
      if (budget == 0) Log().warn("checkpoint '{}' info is too large; only part of it is read", key->text);
    } else if (auto scalar = ScalarJson(*value)) {
      info[key->text] = *scalar;
    }
  }
  return info;
}

void SaveCheckpoint(const std::string& path, const StateDict& state_dict,
                    const nlohmann::json& info) {
  VPR_CHECK(info.is_null() || info.is_object(), "checkpoint info for '", path,
            "' must be a JSON object, got ", info.type_name());
  StateDict tensors;
  std::set<std::string> names;
  for (const auto& [name, tensor] : state_dict) {
    VPR_CHECK(tensor.defined(), "cannot save '", path, "': tensor '", name, "' is undefined");
    VPR_CHECK(names.insert(name).second, "cannot save '", path, "': the state_dict has '", name, "' twice");
    tensors.emplace_back(name, CompactCpu(tensor));
  }
  VPR_CHECK(!info.is_object() || !info.contains("state_dict"), "cannot save '", path,
            "': checkpoint info must not have a 'state_dict' entry");
  const std::string bytes = TorchZipBytes(tensors, info);
  WriteFileAtomic(path, bytes);
}

}  // namespace vpr
