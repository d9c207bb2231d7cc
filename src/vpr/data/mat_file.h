// MATLAB files read into our own MatArray values: MAT v5/v7 by our bounded parser (matio
// crashed and hung on corrupt v5 structs), v7.3 (HDF5) through matio. Only what the
// ground-truth readers need.
#pragma once

#include <matio.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vpr {

// One MATLAB array, owned by us. Classes use MATLAB's ids (matio's enum).
struct MatArray {
  std::string name;
  matio_classes class_type = MAT_C_EMPTY;
  std::vector<size_t> dims;
  bool is_complex = false;
  bool is_logical = false;
  // Numeric and logical arrays: every element (the real part), column-major.
  std::vector<double> numbers;
  // Char arrays: one code unit per element, column-major.
  std::vector<uint32_t> chars;
  // Structs: the field names; elements holds numel x fields (element-major).
  std::vector<std::string> field_names;
  // Cells: numel arrays, column-major; structs: see field_names.
  std::vector<MatArray> elements;
};

class MatFile {
 public:
  // Reads every variable of the file at `path`. Throws vpr::Error when it is missing,
  // not a MAT file, corrupt, or declares more data than it can hold.
  explicit MatFile(const std::string& path);
  // The same from the bytes of a file; `what` names it in messages. v5 only.
  static MatFile FromBytes(const std::string& bytes, const std::string& what);

  // "5" or "7.3".
  const std::string& Version() const { return version_; }
  // The names of the file's variables.
  std::vector<std::string> Variables() const;
  // The variable; throws naming the variables found when it is absent.
  const MatArray& Read(const std::string& name) const;

 private:
  MatFile() = default;
  std::string path_, version_;
  std::vector<MatArray> variables_;
};

// The dimensions, e.g. "314 x 2", and the class, e.g. "double", for messages.
std::string MatShape(const MatArray& v);
std::string MatClassName(const MatArray& v);
// Number of elements (product of the dimensions).
size_t MatNumel(const MatArray& v);

// Field `name` of element `element` of a struct, or nullptr.
const MatArray* MatField(const MatArray& s, const std::string& name, size_t element = 0);
// Cell i (column-major) of a cell array, or nullptr.
const MatArray* MatCell(const MatArray& c, size_t i);

// Every element of a real numeric or logical array as double, in MATLAB's column-major
// order. Throws naming `what` for other classes.
const std::vector<double>& MatNumbers(const MatArray& v, const std::string& what);
// The one value of a numeric scalar (any 1-element array).
double MatScalar(const MatArray& v, const std::string& what);
// A list of names: the rows of a char matrix (space-padded as MATLAB pads them) or the
// elements of a cell of char arrays; trailing spaces and NULs trimmed.
std::vector<std::string> MatStrings(const MatArray& v, const std::string& what);
// A char array as one string (trailing spaces trimmed).
std::string MatString(const MatArray& v, const std::string& what);
// The field names of a struct (empty for other classes).
std::vector<std::string> MatFieldNames(const MatArray& v);

}  // namespace vpr
