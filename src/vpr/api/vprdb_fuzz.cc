// libFuzzer harness: the place database file (.vprdb) as PlaceDatabase::FromBytes reads
// it (vpr serve --db, vpr search --index, PlaceDatabase::Load), then a query and a write.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "vpr/place_database.h"
#include "vpr/util/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    vpr::PlaceDatabase db = vpr::PlaceDatabase::FromBytes(bytes, "fuzz");
    std::vector<float> q(static_cast<size_t>(db.dim()), 0.0f);
    q[0] = 1.0f;
    if (db.size() > 0) db.Query(q, 3);
    db.Add(q, {"added"});
    vpr::PlaceDatabase::FromBytes(db.ToBytes(), "round trip");
  } catch (const vpr::Error&) {
  }
  return 0;
}
