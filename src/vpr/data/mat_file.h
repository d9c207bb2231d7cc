// MATLAB files (v5 and v7.3) read with matio, and their variables turned into strings
// and numbers. Only what the ground-truth readers need.
#pragma once

#include <matio.h>

#include <memory>
#include <string>
#include <vector>

namespace vpr {

struct MatVarFree {
  void operator()(matvar_t* v) const { Mat_VarFree(v); }
};
using MatVarPtr = std::unique_ptr<matvar_t, MatVarFree>;

class MatFile {
 public:
  // Throws vpr::Error when `path` is missing or not a MAT file matio can read.
  explicit MatFile(const std::string& path);
  ~MatFile();
  MatFile(const MatFile&) = delete;
  MatFile& operator=(const MatFile&) = delete;

  // "5", "7.3" or "4".
  std::string Version() const;
  // The names of the file's variables.
  std::vector<std::string> Variables();
  // The variable read whole; throws naming the variables found when it is absent.
  MatVarPtr Read(const std::string& name);

 private:
  std::string path_;
  mat_t* mat_ = nullptr;
};

// The dimensions, e.g. "314 x 2", and the class, e.g. "double", for messages.
std::string MatShape(const matvar_t* v);
std::string MatClassName(const matvar_t* v);
// Number of elements (product of the dimensions).
size_t MatNumel(const matvar_t* v);

// Every element of a real numeric or logical array as double, in MATLAB's column-major
// order. Throws naming `what` for other classes.
std::vector<double> MatNumbers(const matvar_t* v, const std::string& what);
// The one value of a numeric scalar (any 1-element array).
double MatScalar(const matvar_t* v, const std::string& what);
// A list of names: the rows of a char matrix (space-padded as MATLAB pads them) or the
// elements of a cell of char arrays; trailing spaces and NULs trimmed.
std::vector<std::string> MatStrings(const matvar_t* v, const std::string& what);
// A char array as one string (trailing spaces trimmed).
std::string MatString(const matvar_t* v, const std::string& what);
// The field names of a struct.
std::vector<std::string> MatFieldNames(const matvar_t* v);

}  // namespace vpr
