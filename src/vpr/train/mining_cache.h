// The descriptors tuple mining reads: one float32 row per image in a memory-mapped file
// (RUN_DIR/cache/descriptors.f32), overwritten in place by each refresh, so that a large
// training set never sits in RAM as a second copy and no refresh leaves a new file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vpr/model/vpr_model.h"
#include "vpr/train/frozen_features.h"

namespace vpr {

class MappedDescriptorStore {
 public:
  // Opens (creating or resizing) `path` as rows x dim float32, mapped read-write.
  MappedDescriptorStore(const std::string& path, int64_t rows, int64_t dim);
  ~MappedDescriptorStore();
  MappedDescriptorStore(const MappedDescriptorStore&) = delete;
  MappedDescriptorStore& operator=(const MappedDescriptorStore&) = delete;

  float* row(int64_t i) { return data_ + i * dim_; }
  const float* row(int64_t i) const { return data_ + i * dim_; }
  int64_t rows() const { return rows_; }
  int64_t dim() const { return dim_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int64_t rows_ = 0, dim_ = 0;
  int fd_ = -1;
  float* data_ = nullptr;
  size_t bytes_ = 0;
};

// Describes images[i] into store row rows[i], batch_size images per pass, in eval mode
// without gradients (the model is left in eval mode), through the frozen-feature cache,
// with progress labelled `label`. An image that cannot be read stops training (tuples
// would silently lose it): the error names it.
void RefreshDescriptors(VprModel& model, FrozenFeatureCache& features, const std::vector<std::string>& images,
                        const std::vector<int64_t>& rows, MappedDescriptorStore& store, const std::string& label,
                        int batch_size);

}  // namespace vpr
