// LoadMatDataset: the `dbStruct` of NetVLAD / seqNet (a struct with named fields) and of
// HEAPUtil (a 1 x 8 cell of the same values by position), MAT v5 or v7.3.
#include <cmath>

#include "vpr/data/dataset_files.h"
#include "vpr/data/load_dataset.h"
#include "vpr/data/mat_file.h"
#include "vpr/util/check.h"

namespace vpr {
namespace {

// What a layout yields before it becomes a Dataset.
struct MatContent {
  std::vector<std::string> database_names, query_names;
  const MatArray* database_positions = nullptr;
  const MatArray* query_positions = nullptr;
  std::string database_positions_field, query_positions_field;
  double radius = 0, non_trivial_radius = 0;
  int64_t declared_database = -1, declared_queries = -1;
  nlohmann::json info;
};

// A declared image count: a whole number in [0, 1e12], else the file is corrupt.
int64_t MatCount(const MatArray& v, const std::string& what) {
  const double x = MatScalar(v, what);
  VPR_CHECK(x >= 0 && x <= 1e12 && x == std::floor(x), what, " = ", x, " is not an image count");
  return static_cast<int64_t>(x);
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// Positions of n images, n x 2 row-major, from an N x 2, 2 x N or 1-D (frame index:
// (x, 0)) array; `two_by_n` says which of the two square-ambiguous forms the layout uses.
std::vector<double> Positions(const MatArray& v, size_t n, bool two_by_n, const std::string& what,
                              const std::string& file, const std::string& names_field) {
  const std::vector<double>& values = MatNumbers(v, what);
  const size_t rank = v.dims.size();
  size_t d0 = rank >= 1 ? v.dims[0] : 0, d1 = rank >= 2 ? v.dims[1] : 1;
  bool n_by_2 = rank == 2 && d0 == n && d1 == 2, by_n = rank == 2 && d0 == 2 && d1 == n;
  bool flat = rank == 2 && ((d0 == 1 && d1 == n) || (d1 == 1 && d0 == n));
  VPR_CHECK(n_by_2 || by_n || flat || (n == 0 && values.empty()), "MAT file '", file, "': ", what, " has shape ",
            MatShape(v), " but ", names_field, " lists ", n,
            " names; one position per image is needed (N x 2 or 2 x N): the dataset cannot be built, "
            "fix the file so both come from the same images");
  std::vector<double> out(2 * n, 0.0);
  bool use_2xn = by_n && (two_by_n || !n_by_2);
  for (size_t i = 0; i < n; ++i) {
    if (flat) {
      out[2 * i] = values[i];
    } else if (use_2xn) {
      out[2 * i] = values[2 * i];
      out[2 * i + 1] = values[2 * i + 1];
    } else {
      out[2 * i] = values[i];
      out[2 * i + 1] = values[n + i];
    }
  }
  return out;
}

// ---- NetVLAD / seqNet: a struct with named fields.

class StructFields {
 public:
  StructFields(const MatArray& s, std::string file) : s_(s), file_(std::move(file)), names_(MatFieldNames(s)) {}
  // The first of `candidates` present (and non-empty), or nullptr.
  const MatArray* Find(std::initializer_list<const char*> candidates, std::string* found = nullptr) const {
    for (const char* c : candidates) {
      const MatArray* v = MatField(s_, c);
      if (v && MatNumel(*v) > 0) {
        if (found) *found = c;
        return v;
      }
    }
    return nullptr;
  }
  const MatArray& Require(std::initializer_list<const char*> candidates, std::string* found = nullptr) const {
    const MatArray* v = Find(candidates, found);
    if (v) return *v;
    std::string wanted;
    for (const char* c : candidates) wanted += (wanted.empty() ? "'" : "' or '") + std::string(c);
    VPR_THROW("MAT file '", file_, "': dbStruct has no field ", wanted,
              "' (or it is empty); its fields are: ", Join(names_),
              ". A NetVLAD dbStruct needs dbImage/dbImageFns, utmDb, qImage/qImageFns, utmQ and "
              "posDistThr or posDistSqThr");
  }

 private:
  const MatArray& s_;
  std::string file_;
  std::vector<std::string> names_;
};

std::string FieldWhat(const std::string& file, const std::string& field) {
  return "dbStruct." + field + " of '" + file + "'";
}

MatContent ReadNetVladStruct(const MatArray& s, const std::string& file) {
  StructFields f(s, file);
  MatContent c;
  std::string db_field, q_field;
  c.database_names = MatStrings(f.Require({"dbImage", "dbImageFns"}, &db_field), FieldWhat(file, "dbImage"));
  c.query_names = MatStrings(f.Require({"qImage", "qImageFns"}, &q_field), FieldWhat(file, "qImage"));
  c.database_positions = &f.Require({"utmDb"});
  c.query_positions = &f.Require({"utmQ"});
  c.database_positions_field = "dbStruct.utmDb";
  c.query_positions_field = "dbStruct.utmQ";
  if (const MatArray* v = f.Find({"posDistThr"})) {
    c.radius = MatScalar(*v, FieldWhat(file, "posDistThr"));
  } else {
    c.radius = std::sqrt(MatScalar(f.Require({"posDistThr", "posDistSqThr"}), FieldWhat(file, "posDistSqThr")));
  }
  if (const MatArray* v = f.Find({"nonTrivPosDistSqThr"}))
    c.non_trivial_radius = std::sqrt(MatScalar(*v, FieldWhat(file, "nonTrivPosDistSqThr")));
  if (const MatArray* v = f.Find({"numDb", "numImages"}))
    c.declared_database = MatCount(*v, FieldWhat(file, "numDb"));
  if (const MatArray* v = f.Find({"numQ", "numQueries"}))
    c.declared_queries = MatCount(*v, FieldWhat(file, "numQ"));
  c.info["layout"] = "netvlad_struct";
  c.info["database_field"] = db_field;
  c.info["query_field"] = q_field;
  if (const MatArray* v = f.Find({"whichSet"})) c.info["whichSet"] = MatString(*v, FieldWhat(file, "whichSet"));
  if (const MatArray* v = f.Find({"dataset"})) c.info["dataset"] = MatString(*v, FieldWhat(file, "dataset"));
  return c;
}

// ---- HEAPUtil: {dbImage, locDb, qImage, locQ, numDb, numQ, posDistThr, posDistSqThr}.

const char* const kHeapUtilCells[] = {"dbImage", "locDb", "qImage",     "locQ",
                                      "numDb",   "numQ",  "posDistThr", "posDistSqThr"};

const MatArray* Cell(const MatArray& cell, int i) {
  const MatArray* v = MatCell(cell, i);
  return v && MatNumel(*v) > 0 ? v : nullptr;
}

std::string CellWhat(const std::string& file, int i) {
  return "dbStruct{" + std::to_string(i + 1) + "} (" + kHeapUtilCells[i] + ") of '" + file + "'";
}

const MatArray& RequireCell(const MatArray& cell, int i, const std::string& file) {
  const MatArray* v = Cell(cell, i);
  VPR_CHECK(v != nullptr, "MAT file '", file, "': ", CellWhat(file, i),
            " is empty; a HEAPUtil dbStruct cell holds {dbImage, locDb, qImage, locQ, numDb, numQ, posDistThr, "
            "posDistSqThr}");
  return *v;
}

MatContent ReadHeapUtilCell(const MatArray& cell, const std::string& file) {
  VPR_CHECK(MatNumel(cell) >= 8, "MAT file '", file, "': dbStruct is a cell of ", MatShape(cell),
            " but HEAPUtil's layout has 8 cells {dbImage, locDb, qImage, locQ, numDb, numQ, posDistThr, "
            "posDistSqThr}; give a file in that layout or a NetVLAD dbStruct struct");
  MatContent c;
  c.database_names = MatStrings(RequireCell(cell, 0, file), CellWhat(file, 0));
  c.database_positions = &RequireCell(cell, 1, file);
  c.query_names = MatStrings(RequireCell(cell, 2, file), CellWhat(file, 2));
  c.query_positions = &RequireCell(cell, 3, file);
  c.database_positions_field = "dbStruct{2} (locDb)";
  c.query_positions_field = "dbStruct{4} (locQ)";
  if (const MatArray* v = Cell(cell, 4)) c.declared_database = MatCount(*v, CellWhat(file, 4));
  if (const MatArray* v = Cell(cell, 5)) c.declared_queries = MatCount(*v, CellWhat(file, 5));
  if (const MatArray* v = Cell(cell, 6)) {
    c.radius = MatScalar(*v, CellWhat(file, 6));
  } else {
    c.radius = std::sqrt(MatScalar(RequireCell(cell, 7, file), CellWhat(file, 7)));
  }
  c.info["layout"] = "heaputil_cell";
  return c;
}

Dataset ToDataset(MatContent c, const std::string& kind, const std::string& file, const std::string& root,
                  bool two_by_n) {
  Dataset d;
  d.kind = kind;
  d.root = NamesRoot(file, root);
  d.database_positions = Positions(*c.database_positions, c.database_names.size(), two_by_n, c.database_positions_field,
                                   file, "the database list");
  d.query_positions =
      Positions(*c.query_positions, c.query_names.size(), two_by_n, c.query_positions_field, file, "the query list");
  d.database = UnderRoot(d.root, c.database_names);
  d.queries = UnderRoot(d.root, c.query_names);
  d.database_names = std::move(c.database_names);
  d.query_names = std::move(c.query_names);
  d.positive_radius = c.radius;
  d.non_trivial_radius = c.non_trivial_radius;
  d.position_unit = "m";
  d.declared_database = c.declared_database;
  d.declared_queries = c.declared_queries;
  d.info = std::move(c.info);
  d.info["file"] = file;
  d.Check();
  return d;
}

}  // namespace

Dataset LoadMatDataset(const std::string& file, const std::string& root) {
  MatFile mat(file);
  const MatArray& db = mat.Read("dbStruct");
  Dataset d;
  if (db.class_type == MAT_C_STRUCT) {
    VPR_CHECK(MatNumel(db) >= 1, "MAT file '", file, "': dbStruct is an empty struct array");
    d = ToDataset(ReadNetVladStruct(db, file), "netvlad_mat", file, root, true);
  } else if (db.class_type == MAT_C_CELL) {
    d = ToDataset(ReadHeapUtilCell(db, file), "heaputil_mat", file, root, false);
  } else {
    VPR_THROW("MAT file '", file, "': dbStruct is a ", MatClassName(db), " ", MatShape(db),
              "; expected a NetVLAD struct (fields dbImage, utmDb, qImage, utmQ, posDistThr, ...) or HEAPUtil's "
              "1 x 8 cell {dbImage, locDb, qImage, locQ, numDb, numQ, posDistThr, posDistSqThr}");
  }
  d.info["mat_version"] = mat.Version();
  return d;
}

}  // namespace vpr
