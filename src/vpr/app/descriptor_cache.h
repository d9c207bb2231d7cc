// Descriptors cached on disk, keyed by everything that determines them: the model's
// weights and options, the image files (path, size, modification time), the resize
// and the device. A second `vpr eval` on the same database (other queries, another
// --top-k or --index) loads them instead of running the network again.
#pragma once

#include <string>
#include <vector>

#include "vpr/app/extract.h"

namespace vpr {

// Fingerprint of the weights (every parameter and buffer, bytes and names) and options.
std::string ModelFingerprint(VprModel& model);

// $VPR_CACHE_DIR, else $XDG_CACHE_HOME/vpr, else $HOME/.cache/vpr.
std::string DefaultCacheDir();

class DescriptorCache {
 public:
  // dir empty: no caching, Extract always runs the model.
  explicit DescriptorCache(std::string dir) : dir_(std::move(dir)) {}
  // The cached result for these images and settings, or a fresh extraction that is then
  // stored. *hit tells which; failures are cached too (an unreadable image stays one
  // until it changes on disk).
  ExtractResult Extract(VprModel& model, const std::string& model_fingerprint, const std::vector<std::string>& paths,
                        const ExtractOptions& options, bool* hit) const;
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

}  // namespace vpr
