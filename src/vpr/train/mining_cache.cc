#include "vpr/train/mining_cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "vpr/image/image_io.h"
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

void ForwardInto(VprModel& model, std::vector<at::Tensor>& batch, const std::vector<int64_t>& rows,
                 MappedDescriptorStore& store, const at::Device& device) {
  at::Tensor out = model->forward(at::stack(batch).to(device)).to(at::kCPU, at::kFloat).contiguous();
  VPR_CHECK(out.size(1) == store.dim(), "the model gives ", out.size(1), "-d descriptors but the cache holds ",
            store.dim());
  VPR_CHECK(torch::isfinite(out).all().item<bool>(), "the model gives NaN or infinite descriptors: training ",
            "diverged or the checkpoint is broken; lower --lr or set --clip-grad-norm, and resume from a good checkpoint");
  for (size_t k = 0; k < rows.size(); ++k)
    std::memcpy(store.row(rows[k]), out[k].data_ptr<float>(), sizeof(float) * store.dim());
  batch.clear();
}

}  // namespace

void RefreshDescriptors(VprModel& model, const std::vector<std::string>& images, const std::vector<int64_t>& rows,
                        MappedDescriptorStore& store, const ExtractOptions& options, const at::Device& device) {
  VPR_CHECK(images.size() == rows.size(), "internal: ", images.size(), " images for ", rows.size(), " rows");
  torch::NoGradGuard no_grad;
  model->eval();
  Progress progress(options.label, static_cast<int64_t>(images.size()));
  std::vector<at::Tensor> batch;
  std::vector<int64_t> batch_rows;
  for (size_t i = 0; i < images.size(); ++i) {
    at::Tensor image;
    try {
      image = ResizeImage(LoadImageRgb(images[i]), options.resize);
    } catch (const std::exception& e) {
      VPR_THROW("training image '", images[i], "' cannot be read: ", e.what(),
                "; remove it from the dataset (vpr doctor lists unreadable images)");
    }
    if (!batch.empty() && (batch.size() == static_cast<size_t>(options.batch_size) ||
                           batch.front().sizes() != image.sizes())) {
      ForwardInto(model, batch, batch_rows, store, device);
      progress.Add(static_cast<int64_t>(batch_rows.size()));
      batch_rows.clear();
    }
    batch.push_back(image);
    batch_rows.push_back(rows[i]);
  }
  if (!batch.empty()) {
    ForwardInto(model, batch, batch_rows, store, device);
    progress.Add(static_cast<int64_t>(batch_rows.size()));
  }
  progress.Finish();
}

}  // namespace vpr
