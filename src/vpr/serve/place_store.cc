#include "vpr/serve/place_store.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"
#include "vpr/util/logging.h"
#include "vpr/util/versioned_file.h"

namespace vpr {
namespace {

// Journal: the versioned framing (magic, version, JSON header {"dim"}), then records
// [u32 payload length][u32 CRC-32 of the payload][payload]. Payload: u8 kind, i64 id,
// and for an add: f64 x, y, time, u32 name length, the name, dim f32 values.
constexpr char kMagic[8] = {'V', 'P', 'R', 'J', 'R', 'N', 'L', '\n'};
constexpr uint32_t kVersion = 1;
constexpr uint8_t kAdd = 1, kRemove = 2;
constexpr uint32_t kMaxName = 1 << 16;

std::string JournalPath(const std::string& db) { return db + ".journal"; }

template <typename T>
void Put(std::string* out, const T& value) {
  out->append(reinterpret_cast<const char*>(&value), sizeof(T));
}

// Reads fields of one payload, never past its end.
class Reader {
 public:
  Reader(const std::string& bytes, size_t at, size_t end) : bytes_(bytes), at_(at), end_(end) {}
  template <typename T>
  bool Get(T* value) {
    if (end_ - at_ < sizeof(T)) return false;
    std::memcpy(value, bytes_.data() + at_, sizeof(T));
    at_ += sizeof(T);
    return true;
  }
  bool Bytes(size_t n, const char** data) {
    if (end_ - at_ < n) return false;
    *data = bytes_.data() + at_;
    at_ += n;
    return true;
  }
  bool done() const { return at_ == end_; }

 private:
  const std::string& bytes_;
  size_t at_, end_;
};

uint32_t Crc(const char* data, size_t n) {
  return static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(data), static_cast<uInt>(n)));
}

std::string Frame(const std::string& payload) {
  std::string record;
  Put(&record, static_cast<uint32_t>(payload.size()));
  Put(&record, Crc(payload.data(), payload.size()));
  return record + payload;
}

std::string JournalHeader(int dim) { return VersionedPrefix(kMagic, kVersion, nlohmann::json{{"dim", dim}}.dump()); }

}  // namespace

PlaceStore::PlaceStore(PlaceDatabase db) : db_(std::move(db)) {}

PlaceStore::PlaceStore(PlaceDatabase db, std::string path, int snapshot_every)
    : db_(std::move(db)), path_(std::move(path)), snapshot_every_(snapshot_every) {}

PlaceStore::~PlaceStore() {
  if (fd_ >= 0) ::close(fd_);
}

std::unique_ptr<PlaceStore> PlaceStore::Open(const std::string& path, int dim, int snapshot_every) {
  CheckReplaceable(path);
  RemoveStaleTemporaries(path);
  PlaceDatabase db = std::filesystem::exists(path) ? PlaceDatabase::Load(path) : PlaceDatabase(dim);
  VPR_CHECK(db.dim() == dim, "'", path, "' holds ", db.dim(), "-d descriptors but the model gives ", dim,
            "-d ones: serve it with the model it was built with, or build a new database");
  std::unique_ptr<PlaceStore> store(new PlaceStore(std::move(db), path, snapshot_every));
  if (std::filesystem::exists(JournalPath(path))) store->Replay(JournalPath(path));
  if (!std::filesystem::exists(path) || store->replayed_ > 0 || store->torn_) {
    store->Flush();  // the replayed records are in the database file from now on
  } else {
    store->OpenJournal(/*truncate=*/!std::filesystem::exists(JournalPath(path)));
  }
  return store;
}

std::unique_ptr<PlaceStore> PlaceStore::Create(const std::string& path, PlaceDatabase db, int snapshot_every) {
  CheckReplaceable(path);
  std::unique_ptr<PlaceStore> store(new PlaceStore(std::move(db), path, snapshot_every));
  store->Flush();
  return store;
}

void PlaceStore::Replay(const std::string& journal_path) {
  const std::string bytes = ReadFileBytes(journal_path);
  size_t at = 0;
  const std::string header =
      ReadVersionedHeader(bytes, kMagic, kVersion, "'" + journal_path + "'", "vpr database journal", "vpr serve", &at);
  int dim = 0;
  try {
    dim = nlohmann::json::parse(header).at("dim").get<int>();
  } catch (const nlohmann::json::exception& e) {
    VPR_THROW("'", journal_path, "' has a corrupt header: ", e.what());
  }
  VPR_CHECK(dim == db_.dim(), "'", journal_path, "' journals ", dim, "-d descriptors but '", path_, "' holds ",
            db_.dim(), "-d ones: they do not belong together");
  const size_t max_payload = 64 + kMaxName + 4 * static_cast<size_t>(dim);
  while (at < bytes.size()) {
    uint32_t length = 0, crc = 0;
    Reader frame(bytes, at, bytes.size());
    const char* payload = nullptr;
    // A record cut short is the last one, written when the process was killed: it was
    // never acknowledged.
    if (!frame.Get(&length) || !frame.Get(&crc) || length > max_payload || !frame.Bytes(length, &payload)) {
      Log().warn("'{}': dropped a journal record cut short at byte {} (a write interrupted before it was "
                 "acknowledged)", journal_path, at);
      torn_ = true;
      break;
    }
    VPR_CHECK(Crc(payload, length) == crc, "'", journal_path, "': the record at byte ", at,
              " fails its checksum: the journal is corrupt (move it away to serve the last snapshot)");
    const size_t start = payload - bytes.data();
    Reader r(bytes, start, start + length);
    uint8_t kind = 0;
    int64_t id = -1;
    VPR_CHECK(r.Get(&kind) && r.Get(&id), "'", journal_path, "': the record at byte ", at, " is too short");
    if (kind == kRemove) {
      db_.Remove(id);
    } else {
      PlaceInfo info;
      uint32_t name_length = 0;
      const char* name = nullptr;
      const char* values = nullptr;
      VPR_CHECK(kind == kAdd && r.Get(&info.x) && r.Get(&info.y) && r.Get(&info.time) && r.Get(&name_length) &&
                    r.Bytes(name_length, &name) && r.Bytes(4 * static_cast<size_t>(dim), &values) && r.done(),
                "'", journal_path, "': the record at byte ", at, " is malformed");
      info.name.assign(name, name_length);
      std::vector<float> descriptor(dim);
      std::memcpy(descriptor.data(), values, 4 * static_cast<size_t>(dim));
      // Records already in the snapshot (a kill between snapshot and truncation) are skipped.
      if (id >= db_.next_id()) {
        VPR_CHECK(id == db_.next_id(), "'", journal_path, "' adds place ", id, " but '", path_,
                  "' expects id ", db_.next_id(), " next: the journal does not follow this database");
        db_.Add(descriptor, info);
      }
    }
    ++replayed_;
    at = start + length;
  }
  if (replayed_ > 0) Log().info("'{}': replayed {} journal records", journal_path, replayed_);
}

void PlaceStore::OpenJournal(bool truncate) {
  const std::string journal = JournalPath(path_);
  if (fd_ < 0) {
    fd_ = ::open(journal.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    VPR_CHECK(fd_ >= 0, "cannot open the journal '", journal, "': ", std::strerror(errno));
  }
  if (!truncate) return;
  const std::string header = JournalHeader(db_.dim());
  VPR_CHECK(::ftruncate(fd_, 0) == 0, "cannot empty the journal '", journal, "': ", std::strerror(errno));
  Append(header);
  records_ = 0;
}

void PlaceStore::Append(const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    VPR_CHECK(n > 0, "cannot write the journal '", JournalPath(path_), "': ", std::strerror(errno),
              " (the change was not made)");
    done += static_cast<size_t>(n);
  }
  VPR_CHECK(::fdatasync(fd_) == 0, "cannot flush the journal '", JournalPath(path_), "': ", std::strerror(errno));
}

int64_t PlaceStore::Add(const std::vector<float>& descriptor, const PlaceInfo& info) {
  std::lock_guard lock(write_mutex_);
  VPR_CHECK(info.name.size() < kMaxName, "a place name may have at most ", kMaxName - 1, " bytes, got ",
            info.name.size());
  const int64_t id = db_.next_id();
  if (durable()) {
    // What the database would refuse must not reach the journal, whose replay would stop there.
    VPR_CHECK(static_cast<int>(descriptor.size()) == db_.dim(), "the descriptor to add has ", descriptor.size(),
              " values but the database holds ", db_.dim(), "-d descriptors");
    VPR_CHECK(std::all_of(descriptor.begin(), descriptor.end(), [](float v) { return std::isfinite(v); }),
              "the descriptor to add holds NaN or infinite values");
    std::string payload;
    Put(&payload, kAdd);
    Put(&payload, id);
    Put(&payload, info.x);
    Put(&payload, info.y);
    Put(&payload, info.time);
    Put(&payload, static_cast<uint32_t>(info.name.size()));
    payload += info.name;
    payload.append(reinterpret_cast<const char*>(descriptor.data()), 4 * descriptor.size());
    Append(Frame(payload));
    ++records_;
  }
  const int64_t added = db_.Add(descriptor, info);
  VPR_CHECK(added == id, "internal error: place journalled as ", id, " but added as ", added);
  if (durable() && records_ >= snapshot_every_) Flush();
  return id;
}

bool PlaceStore::Remove(int64_t id) {
  std::lock_guard lock(write_mutex_);
  // Removed first: an index that cannot remove throws before anything is journalled.
  if (!db_.Remove(id)) return false;
  if (durable()) {
    std::string payload;
    Put(&payload, kRemove);
    Put(&payload, id);
    Append(Frame(payload));
    ++records_;
    if (records_ >= snapshot_every_) Flush();
  }
  return true;
}

void PlaceStore::Flush() {
  if (!durable()) return;
  // The snapshot lands whole before the journal is emptied: a kill in between replays
  // records the snapshot already holds, which Replay skips.
  db_.Save(path_);
  OpenJournal(/*truncate=*/true);
  Log().info("'{}': database written ({} places)", path_, db_.size());
}

}  // namespace vpr
