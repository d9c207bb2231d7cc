#include "vpr/serve/place_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "vpr/test_config.h"
#include "vpr/util/atomic_file.h"
#include "vpr/util/thrown_message.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;

std::string Scratch(const std::string& name) {
  const fs::path dir = fs::path(VPR_BINARY_DIR) / "test_scratch" / "serve" / (name + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return (dir / "map.vprdb").string();
}

std::vector<float> Unit(int dim, int hot) {
  std::vector<float> d(dim, 0.0f);
  d[hot % dim] = 1.0f;
  return d;
}

// Destroying a store without Flush() is what a kill -9 leaves: the snapshot from Open
// and the journal written since.
TEST(PlaceStore, AcknowledgedAddsAndRemovalsSurviveAProcessThatNeverFlushed) {
  const std::string path = Scratch("survive");
  {
    auto store = PlaceStore::Open(path, 4, 1000);
    EXPECT_EQ(store->Add(Unit(4, 0), {"a", 1, 2, 3}), 0);
    EXPECT_EQ(store->Add(Unit(4, 1), {"b", 4, 5, 6}), 1);
    EXPECT_EQ(store->Add(Unit(4, 2), {"c", 7, 8, 9}), 2);
    EXPECT_TRUE(store->Remove(1));
    EXPECT_FALSE(store->Remove(1));
  }
  EXPECT_EQ(PlaceDatabase::Load(path).size(), 0) << "the database file is only ever replaced whole";
  auto store = PlaceStore::Open(path, 4, 1000);
  EXPECT_EQ(store->replayed(), 4);
  EXPECT_EQ(store->db().Ids(), (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(store->db().Info(2).name, "c");
  EXPECT_EQ(store->db().Info(2).y, 8);
  EXPECT_EQ(store->db().Query(Unit(4, 2), 1).at(0).id, 2);
  EXPECT_EQ(store->Add(Unit(4, 3), {"d"}), 3) << "ids are never reused after a replay";
  // Open wrote the replayed records into the file.
  EXPECT_EQ(PlaceDatabase::Load(path).size(), 2);
}

TEST(PlaceStore, ARecordCutShortByAKillIsDroppedAndLaterAddsStillReplay) {
  const std::string path = Scratch("torn");
  {
    auto store = PlaceStore::Open(path, 4, 1000);
    store->Add(Unit(4, 0), {"a"});
    store->Add(Unit(4, 1), {"b"});
  }
  const std::string journal = path + ".journal";
  const std::string bytes = ReadFileBytes(journal);
  fs::resize_file(journal, bytes.size() - 5);  // the second record, half written
  {
    auto store = PlaceStore::Open(path, 4, 1000);
    EXPECT_EQ(store->replayed(), 1);
    EXPECT_EQ(store->db().size(), 1);
    EXPECT_EQ(store->Add(Unit(4, 2), {"c"}), 1);
  }
  auto store = PlaceStore::Open(path, 4, 1000);
  EXPECT_EQ(store->db().size(), 2);
  EXPECT_EQ(store->db().Info(1).name, "c");
}

TEST(PlaceStore, ACorruptRecordIsAnErrorNamingTheJournal) {
  const std::string path = Scratch("corrupt");
  {
    auto store = PlaceStore::Open(path, 4, 1000);
    store->Add(Unit(4, 0), {"a"});
    store->Add(Unit(4, 1), {"b"});
  }
  const std::string journal = path + ".journal";
  std::string bytes = ReadFileBytes(journal);
  bytes[bytes.size() - 20] ^= 0x40;  // inside the last record's descriptor
  WriteFileAtomic(journal, bytes);
  const std::string message = ThrownMessage([&] { PlaceStore::Open(path, 4, 1000); });
  EXPECT_NE(message.find("map.vprdb.journal"), std::string::npos) << message;
  EXPECT_NE(message.find("checksum"), std::string::npos) << message;
}

TEST(PlaceStore, SnapshotsEmptyTheJournalAndAKillBetweenSnapshotAndTruncationReplaysNothingTwice) {
  const std::string path = Scratch("snapshot");
  std::string journal_before_snapshot;
  {
    auto store = PlaceStore::Open(path, 4, 3);
    store->Add(Unit(4, 0), {"a"});
    store->Add(Unit(4, 1), {"b"});
    journal_before_snapshot = ReadFileBytes(path + ".journal");
    store->Add(Unit(4, 2), {"c"});  // the third record: snapshot, journal emptied
    EXPECT_LT(fs::file_size(path + ".journal"), journal_before_snapshot.size());
    EXPECT_EQ(PlaceDatabase::Load(path).size(), 3);
  }
  // As if killed after the snapshot's rename, before the journal was emptied.
  WriteFileAtomic(path + ".journal", journal_before_snapshot);
  auto store = PlaceStore::Open(path, 4, 3);
  EXPECT_EQ(store->db().size(), 3);
  EXPECT_EQ(store->db().next_id(), 3);
}

TEST(PlaceStore, RefusesWhatItCouldNotReplayAndAModelOfAnotherDimension) {
  const std::string path = Scratch("refuse");
  auto store = PlaceStore::Open(path, 4, 1000);
  std::vector<float> nan = Unit(4, 0);
  nan[1] = std::nanf("");
  EXPECT_NE(ThrownMessage([&] { store->Add(nan, {"x"}); }).find("NaN"), std::string::npos);
  EXPECT_NE(ThrownMessage([&] { store->Add(Unit(3, 0), {"x"}); }).find("3 values"), std::string::npos);
  store.reset();
  EXPECT_EQ(PlaceStore::Open(path, 4, 1000)->replayed(), 0) << "nothing refused reached the journal";
  EXPECT_NE(ThrownMessage([&] { PlaceStore::Open(path, 8, 1000); }).find("4-d descriptors but the model gives 8"),
            std::string::npos);
}

}  // namespace
}  // namespace vpr
