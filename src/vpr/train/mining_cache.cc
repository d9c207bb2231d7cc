#include "vpr/train/mining_cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "vpr/util/check.h"
#include "vpr/util/progress.h"

namespace vpr {

MappedDescriptorStore::MappedDescriptorStore(const std::string& path, int64_t rows, int64_t dim)
    : path_(path), rows_(rows), dim_(dim), bytes_(static_cast<size_t>(rows * dim) * sizeof(float)) {
  VPR_CHECK(rows > 0 && dim > 0, "descriptor cache '", path, "': needs rows and dim > 0, got ", rows, " x ", dim);
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT, 0644);
  VPR_CHECK(fd_ >= 0, "cannot open the descriptor cache '", path, "': ", std::strerror(errno));
  if (::ftruncate(fd_, static_cast<off_t>(bytes_)) != 0) {
    int err = errno;
    ::close(fd_);
    VPR_THROW("cannot size the descriptor cache '", path, "' to ", bytes_, " bytes: ", std::strerror(err),
              " (is the disk full?)");
  }
  void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) {
    int err = errno;
    ::close(fd_);
    VPR_THROW("cannot map the descriptor cache '", path, "': ", std::strerror(err));
  }
  data_ = static_cast<float*>(p);
}

MappedDescriptorStore::~MappedDescriptorStore() {
  if (data_) ::munmap(data_, bytes_);
  if (fd_ >= 0) ::close(fd_);
}

namespace {

void DescribeInto(VprModel& model, FrozenFeatureCache& features, std::vector<std::string>& batch,
                  std::vector<int64_t>& rows, MappedDescriptorStore& store) {
  at::Tensor out = DescribeImages(model, features, batch).to(at::kCPU, at::kFloat).contiguous();
  VPR_CHECK(out.size(1) == store.dim(), "the model gives ", out.size(1), "-d descriptors but the cache holds ",
            store.dim());
  VPR_CHECK(torch::isfinite(out).all().item<bool>(), "the model gives NaN or infinite descriptors: training ",
            "diverged or the checkpoint is broken; lower --lr or set --clip-grad-norm, and resume from a good checkpoint");
  for (size_t k = 0; k < rows.size(); ++k)
    std::memcpy(store.row(rows[k]), out[k].data_ptr<float>(), sizeof(float) * store.dim());
  batch.clear();
  rows.clear();
}

}  // namespace

void RefreshDescriptors(VprModel& model, FrozenFeatureCache& features, const std::vector<std::string>& images,
                        const std::vector<int64_t>& rows, MappedDescriptorStore& store, const std::string& label,
                        int batch_size) {
  VPR_CHECK(images.size() == rows.size(), "internal: ", images.size(), " images for ", rows.size(), " rows");
  torch::NoGradGuard no_grad;
  model->eval();
  Progress progress(label, static_cast<int64_t>(images.size()));
  std::vector<std::string> batch;
  std::vector<int64_t> batch_rows;
  for (size_t i = 0; i < images.size(); ++i) {
    batch.push_back(images[i]);
    batch_rows.push_back(rows[i]);
    if (batch.size() == static_cast<size_t>(batch_size) || i + 1 == images.size()) {
      const auto n = static_cast<int64_t>(batch.size());
      DescribeInto(model, features, batch, batch_rows, store);
      progress.Add(n);
    }
  }
  progress.Finish();
}

}  // namespace vpr
