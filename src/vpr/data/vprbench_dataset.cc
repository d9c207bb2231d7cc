// VPR-Bench ground truth (Zaffar et al.): a .npy of shape (N, 2) whose rows are
// [query index, [database indices]], saved by numpy as an object array, i.e. a pickle of
// _reconstruct(ndarray, ...) with BUILD state (version, shape, dtype('O'), fortran, items).
#include <algorithm>
#include <filesystem>
#include <unordered_map>

#include "vpr/data/load_dataset.h"
#include "vpr/io/pickle.h"
#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"
#include "vpr/util/npy.h"

namespace vpr {
namespace fs = std::filesystem;

namespace {

using Kind = PyValue::Kind;

// The references VPR-Bench writes for a query that has no match (Gardens Point TN).
constexpr int64_t kNoMatch = -1;
// Real files are far smaller (Tokyo 24/7's 37 000 references: 110 KiB; all of Nordland's
// 27 592 frames would be ~2 MiB). A 2-byte pickled integer becomes a ~160-byte value, so
// the cap also bounds what a hostile file makes the unpickler allocate (~700 MB).
constexpr uintmax_t kMaxFileBytes = uintmax_t{8} << 20;
// Indices this large cannot be images; refusing them keeps every cast exact.
constexpr double kMaxIndex = 0x1p62;

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string out;
  for (int64_t d : shape) out += (out.empty() ? "" : ", ") + std::to_string(d);
  return "(" + out + (shape.size() == 1 ? ",)" : ")");
}

std::string RowWhat(const std::string& file, size_t row) { return "'" + file + "' row " + std::to_string(row); }

// Rejects a negative or repeated query and a negative reference other than kNoMatch.
void CheckRows(const std::vector<VprBenchRow>& rows, const std::string& file) {
  std::unordered_map<int64_t, size_t> row_of_query;
  for (size_t r = 0; r < rows.size(); ++r) {
    const VprBenchRow& row = rows[r];
    VPR_CHECK(row.query >= 0, RowWhat(file, r), " names query ", row.query, ": query indices must be >= 0");
    auto [it, fresh] = row_of_query.emplace(row.query, r);
    VPR_CHECK(fresh, RowWhat(file, r), " repeats query ", row.query, " of row ", it->second,
              ": each query needs exactly one row");
    for (int64_t ref : row.refs)
      VPR_CHECK(ref >= 0 || ref == kNoMatch, RowWhat(file, r), " (query ", row.query, ") lists database index ", ref,
                ": indices must be >= 0 (-1 marks a query without a match)");
  }
}

int64_t IndexOf(const PyValuePtr& v, const std::string& what, const char* role) {
  VPR_CHECK(v->is(Kind::kInt), what, ": the ", role, " is ", v->Describe(),
            "; VPR-Bench rows are [query index, [database indices]] of integers");
  return v->integer;
}

// The (N, 2) elements of numpy's pickled object array, row-major.
const std::vector<PyValuePtr>& ObjectItems(const PyValuePtr& array, const std::vector<int64_t>& shape,
                                           const std::string& what) {
  VPR_CHECK(array->is(Kind::kOpaque) && array->text == "numpy.ndarray" && array->state &&
                array->state->is(Kind::kTuple) && array->state->items.size() == 5,
            what, ": the object array's pickle holds ", array->Describe(),
            ", not a numpy array; save the ground truth with np.save");
  const auto& state = array->state->items;
  std::vector<int64_t> pickled_shape;
  if (state[1]->is(Kind::kTuple))
    for (const auto& d : state[1]->items) pickled_shape.push_back(d->is(Kind::kInt) ? d->integer : -1);
  VPR_CHECK(pickled_shape == shape, what, ": the pickled array has shape ", ShapeText(pickled_shape),
            " but the header says ", ShapeText(shape), "; the file is corrupt");
  const PyValuePtr& dtype = state[2];
  VPR_CHECK(dtype->is(Kind::kOpaque) && dtype->text == "numpy.dtype" && !dtype->items.empty() &&
                dtype->items[0]->is(Kind::kString) && dtype->items[0]->text.rfind("O", 0) == 0,
            what, ": the pickled array's dtype is ", dtype->Describe(), ", not object; the file is corrupt");
  VPR_CHECK(state[3]->is(Kind::kBool) && !state[3]->boolean, what,
            ": the pickled array is in Fortran order; save it with np.ascontiguousarray");
  const PyValuePtr& items = state[4];
  VPR_CHECK(items->is(Kind::kList) && items->items.size() == static_cast<size_t>(2 * shape[0]), what,
            ": the pickled array holds ", items->Describe(), " instead of a list of ", 2 * shape[0], " elements");
  return items->items;
}

std::vector<VprBenchRow> ObjectRows(const std::string& bytes, const NpyHeader& header, const std::string& file) {
  const std::string what = "'" + file + "'";
  const size_t pickle_bytes = bytes.size() - header.data_start;
  // Every element takes at least one byte of pickle: a larger shape is a lie.
  VPR_CHECK(static_cast<uint64_t>(header.shape[0]) <= pickle_bytes / 2, what, ": the header declares ",
            ShapeText(header.shape), " but only ", pickle_bytes, " bytes of data follow; the file is truncated or "
            "corrupt");
  size_t consumed = 0;
  PyValuePtr array;
  try {
    array = Unpickle(bytes.data() + header.data_start, pickle_bytes, &consumed, {});
  } catch (const Error& e) {
    VPR_THROW(what, ": the object array's pickle is unreadable (truncated or corrupt file): ", e.what());
  }
  const auto& items = ObjectItems(array, header.shape, what);
  std::vector<VprBenchRow> rows(header.shape[0]);
  for (size_t r = 0; r < rows.size(); ++r) {
    const std::string row_what = RowWhat(file, r);
    rows[r].query = IndexOf(items[2 * r], row_what, "query index");
    const PyValuePtr& refs = items[2 * r + 1];
    VPR_CHECK(refs->is(Kind::kList) || refs->is(Kind::kTuple), row_what, ": the database indices are ",
              refs->Describe(), "; VPR-Bench rows are [query index, [database indices]]");
    for (const auto& ref : refs->items) rows[r].refs.push_back(IndexOf(ref, row_what, "database index"));
  }
  return rows;
}

// [query, ref] rows of an integer array: one reference per query.
std::vector<VprBenchRow> IntegerRows(const std::string& bytes, const std::string& file) {
  const NpyMatrix m = ReadNpyBytes(bytes, "'" + file + "'");
  std::vector<VprBenchRow> rows(m.rows);
  for (size_t r = 0; r < rows.size(); ++r) {
    const double query = m.At(2 * r), ref = m.At(2 * r + 1);
    VPR_CHECK(query < kMaxIndex && ref < kMaxIndex, RowWhat(file, r), " holds an absurd index (", query, ", ", ref,
              "); the file is corrupt");
    rows[r] = {static_cast<int64_t>(query), {static_cast<int64_t>(ref)}};
  }
  return rows;
}

}  // namespace

std::vector<VprBenchRow> ReadVprBenchGroundTruth(const std::string& file) {
  std::error_code ec;
  VPR_CHECK(fs::is_regular_file(file, ec), "VPR-Bench ground truth '", file, "' does not exist or is not a file");
  const uintmax_t size = fs::file_size(file, ec);
  VPR_CHECK(!ec && size <= kMaxFileBytes, "VPR-Bench ground truth '", file, "' has ", size, " bytes; such files ",
            "are well under ", kMaxFileBytes, " (is it the right file?)");
  const std::string bytes = ReadFileBytes(file);
  const NpyHeader header = ReadNpyHeader(bytes, "'" + file + "'");
  VPR_CHECK(header.shape.size() == 2 && header.shape[1] == 2, "'", file, "' has shape ", ShapeText(header.shape),
            "; VPR-Bench ground truth has shape (queries, 2): rows of [query index, [database indices]]");
  const bool objects = header.dtype == "|O";
  VPR_CHECK(objects || (header.dtype.size() >= 3 && (header.dtype[1] == 'i' || header.dtype[1] == 'u')), "'", file,
            "' holds ", header.dtype, " values; VPR-Bench ground truth is an object array of [query, [database "
            "indices]] rows or an integer array of [query, database index] rows");
  std::vector<VprBenchRow> rows = objects ? ObjectRows(bytes, header, file) : IntegerRows(bytes, file);
  CheckRows(rows, file);
  return rows;
}

Dataset LoadVprBenchDataset(const std::string& gt_file, const std::string& database_dir, const std::string& query_dir) {
  const std::vector<VprBenchRow> rows = ReadVprBenchGroundTruth(gt_file);
  Dataset d = LoadFolderPair(database_dir, query_dir);
  d.kind = "vprbench_npy";
  const int64_t n_db = static_cast<int64_t>(d.database.size()), n_q = static_cast<int64_t>(d.queries.size());
  d.explicit_positives.resize(n_q);
  for (size_t r = 0; r < rows.size(); ++r) {
    const int64_t q = rows[r].query;
    VPR_CHECK(q < n_q, RowWhat(gt_file, r), " names query ", q, " but the query folder '", query_dir, "' holds ", n_q,
              " images (the file has ", rows.size(), " rows): give the --queries folder this ground truth belongs to");
    auto& positives = d.explicit_positives[q];
    for (int64_t ref : rows[r].refs) {
      if (ref == kNoMatch) continue;
      if (ref < n_db)
        positives.push_back(ref);
      else
        d.positives_outside_database.push_back({q, ref});
    }
    std::sort(positives.begin(), positives.end());
    positives.erase(std::unique(positives.begin(), positives.end()), positives.end());
  }
  d.declared_queries = static_cast<int64_t>(rows.size());
  d.info = {{"file", gt_file}, {"database_dir", database_dir}, {"query_dir", query_dir}};
  d.Check();
  return d;
}

}  // namespace vpr
