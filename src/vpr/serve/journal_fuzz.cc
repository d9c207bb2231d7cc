// libFuzzer harness: the journal vpr serve replays at start-up (PlaceStore::Open), as
// left by a kill, a full disk or a hostile file: a 4-d database with the input as its
// journal.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "vpr/serve/place_store.h"
#include "vpr/util/check.h"
#include "vpr/util/logging.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = [] {
    vpr::SetLogLevel("off");
    const std::string d = "/dev/shm/vpr_journal_fuzz_" + std::to_string(::getpid());
    std::filesystem::create_directories(d);
    return d;
  }();
  const std::string db = dir + "/map.vprdb";
  std::filesystem::remove(db);
  std::ofstream(db + ".journal", std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  try {
    auto store = vpr::PlaceStore::Open(db, 4, 1000);
    store->Add({1, 0, 0, 0}, {"after replay"});
  } catch (const vpr::Error&) {
  }
  return 0;
}
