#include "vpr/index/untrusted_faiss.h"

#include <faiss/IVFlib.h>
#include <faiss/IndexIVF.h>
#include <faiss/impl/FaissException.h>
#include <omp.h>

#include <cstring>
#include <new>
#include <vector>

#include "vpr/index/faiss_error.h"
#include "vpr/util/check.h"
#include "vpr/util/child_process.h"
#include "vpr/util/memory_cap.h"

namespace vpr {
namespace {

// The metric as stored: a corrupt file can hold any integer, and loading that through the
// enum is undefined behaviour (UBSan, faiss_index_fuzz).
void CheckMetric(const faiss::Index& index, const std::string& what, const std::string& advice) {
  int metric = 0;
  static_assert(sizeof metric == sizeof index.metric_type);
  std::memcpy(&metric, &index.metric_type, sizeof metric);
  VPR_CHECK(metric == faiss::METRIC_L2 || metric == faiss::METRIC_INNER_PRODUCT, what, " uses FAISS metric ", metric,
            " (vpr reads indexes with metric L2 = 1 or inner product = 0): it is corrupt or not vpr's; ", advice);
  VPR_CHECK(index.d > 0 && index.ntotal >= 0, what, " declares ", index.ntotal, " vectors of ", index.d,
            " dims: it is corrupt; ", advice);
}

// One search that visits every stored code: a reader that accepted inconsistent sizes
// (codes shorter than ntotal x code size) crashes here, in the child, not in a later query.
void ProbeSearch(faiss::Index& index) {
  if (index.ntotal == 0 || index.d > (1 << 20)) return;
  omp_set_num_threads(1);  // a forked child has none of the parent's OpenMP threads
  if (faiss::IndexIVF* ivf = faiss::ivflib::try_extract_index_ivf(&index)) ivf->nprobe = ivf->nlist;
  std::vector<float> query(static_cast<size_t>(index.d), 0.5f);
  float distance = 0;
  int64_t label = 0;  // faiss::idx_t (Index::idx_t before FAISS 1.7.4)
  index.search(1, query.data(), 1, &distance, &label);
}

}  // namespace

std::unique_ptr<faiss::Index> ReadUntrustedFaissIndex(const std::function<faiss::Index*()>& read, size_t bytes,
                                                      const std::string& what, const std::string& advice) {
  const std::string not_an_index = what + " is not a FAISS index: ";
  const ChildOutcome probe = RunInChildProcess([&] {
    try {
      // An index takes about its file's size in memory; a corrupt count asks for far more.
      ScopedAddressSpaceCap cap(4 * bytes + (size_t{256} << 20));
      std::unique_ptr<faiss::Index> index(read());
      CheckMetric(*index, what, advice);
      ProbeSearch(*index);
    } catch (const faiss::FaissException& e) {
      VPR_THROW(not_an_index, FaissReason(e), "; ", advice);
    } catch (const std::bad_alloc&) {
      VPR_THROW(what, " declares more data than its ", bytes, " bytes can hold: it is corrupt; ", advice);
    }
  });
  if (!probe.ok && probe.failure.rfind(what, 0) == 0) VPR_THROW(probe.failure);
  VPR_CHECK(probe.ok, what, " is a corrupt FAISS index: FAISS's reader failed on it (", probe.failure, "); ", advice);
  std::unique_ptr<faiss::Index> index;
  try {
    index.reset(read());
  } catch (const faiss::FaissException& e) {
    VPR_THROW(not_an_index, FaissReason(e), "; ", advice);
  }
  CheckMetric(*index, what, advice);
  return index;
}

}  // namespace vpr
