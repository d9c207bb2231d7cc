#include "vpr/io/npz.h"

#include <zip.h>

#include <filesystem>
#include <memory>

#include "vpr/util/check.h"
#include "vpr/util/size_limits.h"

namespace vpr {
namespace {

using ZipPtr = std::unique_ptr<zip_t, decltype(&zip_discard)>;
using ZipFilePtr = std::unique_ptr<zip_file_t, decltype(&zip_fclose)>;

ZipPtr OpenZip(const std::string& path) {
  int code = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_RDONLY, &code);
  if (!archive) {
    zip_error_t error;
    zip_error_init_with_code(&error, code);
    std::string reason = zip_error_strerror(&error);
    zip_error_fini(&error);
    VPR_THROW("cannot read '", path, "' as an .npz (zip) archive: ", reason,
              "; give a file written by np.savez / np.savez_compressed");
  }
  return ZipPtr(archive, &zip_discard);
}

// The whole uncompressed content of member `index`; *budget (bytes all members may
// still inflate to) is charged before anything is allocated.
std::string ReadMember(zip_t* archive, zip_uint64_t index, const std::string& what, uint64_t* budget) {
  zip_stat_t stat;
  zip_stat_init(&stat);
  VPR_CHECK(zip_stat_index(archive, index, 0, &stat) == 0 && (stat.valid & ZIP_STAT_SIZE) &&
                (stat.valid & ZIP_STAT_COMP_SIZE),
            "cannot stat ", what, ": ", zip_strerror(archive));
  VPR_CHECK(stat.size <= *budget && stat.size <= DecompressionBudget(stat.comp_size), what, " declares ", stat.size,
            " bytes from ", stat.comp_size, " compressed: more than an .npz of this size can hold (a corrupt file or a "
            "decompression bomb)");
  *budget -= stat.size;
  ZipFilePtr file(zip_fopen_index(archive, index, 0), &zip_fclose);
  VPR_CHECK(file != nullptr, "cannot open ", what, ": ", zip_strerror(archive),
            " (members must be stored or deflated, unencrypted)");
  std::string bytes(stat.size, '\0');
  zip_int64_t got = stat.size == 0 ? 0 : zip_fread(file.get(), bytes.data(), stat.size);
  VPR_CHECK(got == static_cast<zip_int64_t>(stat.size), "cannot read ", what, ": got ", got, " of ", stat.size,
            " bytes (", zip_file_strerror(file.get()), "); the archive may be corrupt");
  return bytes;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::map<std::string, NpyMatrix> ReadNpz(const std::string& path) {
  ZipPtr archive = OpenZip(path);
  std::map<std::string, NpyMatrix> out;
  zip_int64_t n = zip_get_num_entries(archive.get(), 0);
  std::error_code ec;
  uint64_t budget = DecompressionBudget(std::filesystem::file_size(path, ec));
  for (zip_int64_t i = 0; i < n; ++i) {
    const char* raw = zip_get_name(archive.get(), i, 0);
    std::string name = raw ? raw : "";
    if (!EndsWith(name, ".npy")) continue;
    std::string what = "member '" + name + "' of '" + path + "'";
    out[name.substr(0, name.size() - 4)] = ReadNpyBytes(ReadMember(archive.get(), i, what, &budget), what);
  }
  return out;
}

}  // namespace vpr
