// A PlaceDatabase whose writes are durable: every add and removal is appended to a
// journal and flushed to disk before it is acknowledged; the database file itself is
// only ever replaced whole (atomically), every `snapshot_every` records and on Flush().
// After a kill -9 the next Open loads the last snapshot and replays the journal.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "vpr/place_database.h"

namespace vpr {

class PlaceStore {
 public:
  // In memory only (nothing is written): a database built for a quick try.
  explicit PlaceStore(PlaceDatabase db);
  // Opens `path` (or an empty dim-d database when the file does not exist yet) and
  // replays "<path>.journal" onto it. A journal record cut short by a kill was never
  // acknowledged and is dropped; a corrupt one before the end is an error.
  static std::unique_ptr<PlaceStore> Open(const std::string& path, int dim, int snapshot_every);
  // Writes `db` to `path` as the store's first snapshot, with an empty journal.
  static std::unique_ptr<PlaceStore> Create(const std::string& path, PlaceDatabase db, int snapshot_every);
  ~PlaceStore();

  // Durable when it returns (journal record written and fdatasync'ed).
  int64_t Add(const std::vector<float>& descriptor, const PlaceInfo& info);
  bool Remove(int64_t id);
  // Rewrites the database file and empties the journal (no-op in memory).
  void Flush();

  const PlaceDatabase& db() const { return db_; }
  bool durable() const { return !path_.empty(); }
  const std::string& path() const { return path_; }
  // Records replayed from the journal by Open.
  int64_t replayed() const { return replayed_; }

 private:
  PlaceStore(PlaceDatabase db, std::string path, int snapshot_every);
  void Append(const std::string& record);
  void OpenJournal(bool truncate);
  void Replay(const std::string& journal_path);

  PlaceDatabase db_;
  std::string path_;
  int snapshot_every_ = 1000;
  int fd_ = -1;
  int64_t records_ = 0;  // in the journal since the last snapshot
  int64_t replayed_ = 0;
  bool torn_ = false;  // the journal ended in a record cut short
  std::mutex write_mutex_;  // one writer: journal order = database order
};

}  // namespace vpr
