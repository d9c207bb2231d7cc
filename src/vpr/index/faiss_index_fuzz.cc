// libFuzzer harness: FAISS index files as vpr search loads them, then one search.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_file.h"
#include "vpr/index/faiss_index.h"
#include "vpr/util/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    vpr::FaissIndex index = vpr::FaissIndex::Load(vpr::FuzzInputFile(data, size));
    if (index.dim() > 0 && index.dim() <= 4096 && index.ntotal() > 0) {
      std::vector<float> query(static_cast<size_t>(index.dim()), 0.5f);
      index.Search(query.data(), 1, index.dim(), 1);
    }
  } catch (const vpr::Error&) {
  }
  return 0;
}
