// A small, strict reader of Python pickles as torch.save writes them (protocols 2-5).
// It builds plain values: None, bool, int, float, str, bytes, list, tuple, dict
// (insertion order kept, so OrderedDict is a dict), tensors and storages, numpy scalars.
// Anything else (an unknown global, an object it cannot build) becomes an Opaque value
// naming the global, so a checkpoint's unrelated entries never break loading; only a
// caller that needs such a value fails, naming it.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace vpr {

struct PyValue;
using PyValuePtr = std::shared_ptr<PyValue>;

struct PyValue {
  enum class Kind { kNone, kBool, kInt, kFloat, kString, kBytes, kList, kTuple, kDict, kTensor,
                    kStorage, kGlobal, kOpaque };
  Kind kind = Kind::kNone;
  bool boolean = false;
  int64_t integer = 0;
  double real = 0.0;
  std::string text;  // kString/kBytes: the content; kGlobal/kOpaque: "module.name"
  std::vector<PyValuePtr> items;  // kList, kTuple; kOpaque: constructor args, then appended items
  // kDict, in insertion order; kOpaque: items set on the object (a dict subclass)
  std::vector<std::pair<PyValuePtr, PyValuePtr>> entries;
  PyValuePtr state;   // kOpaque: the state BUILD gave it (its __dict__), or nullptr
  at::Tensor tensor;  // kTensor; kStorage: a 1-D tensor holding the whole storage

  bool is(Kind k) const { return kind == k; }
  // For kDict with string keys: the value for `key`, or nullptr.
  PyValuePtr Get(const std::string& key) const;
  // A short human description ("dict of 3", "tensor float[64, 512]", "opaque numpy.ndarray").
  std::string Describe() const;
};

// Resolves a persistent id (BINPERSID / PERSID) to a value, usually a kStorage.
using PersistentLoad = std::function<PyValuePtr(const PyValuePtr& pid)>;

// Unpickles one pickle starting at data[0]. On return *consumed holds the number of
// bytes read up to and including STOP (several pickles may follow one another, as in
// the legacy torch.save format). Throws vpr::Error with the byte offset and opcode on
// malformed or truncated input; never reads outside [data, data + size). Results
// may share values but never contain themselves: reference cycles and nesting deeper
// than a few hundred levels are errors.
PyValuePtr Unpickle(const char* data, size_t size, size_t* consumed,
                    const PersistentLoad& persistent_load);

}  // namespace vpr
