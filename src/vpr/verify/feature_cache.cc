// A least-recently-used map of local features by database id.
#include <list>
#include <mutex>
#include <unordered_map>

#include "vpr/geometric_verifier.h"

namespace vpr {

struct FeatureCache::Impl {
  size_t capacity = 0;
  mutable std::mutex mutex;
  // Most recently used first; the map points into the list.
  mutable std::list<std::pair<int64_t, std::shared_ptr<const LocalFeatures>>> order;
  std::unordered_map<int64_t, decltype(order)::iterator> by_id;

  void EraseLocked(int64_t id) {
    auto it = by_id.find(id);
    if (it == by_id.end()) return;
    order.erase(it->second);
    by_id.erase(it);
  }
};

FeatureCache::FeatureCache(size_t capacity) : impl_(std::make_unique<Impl>()) { impl_->capacity = capacity; }
FeatureCache::~FeatureCache() = default;

void FeatureCache::Put(int64_t id, LocalFeatures features) {
  std::lock_guard lock(impl_->mutex);
  impl_->EraseLocked(id);
  impl_->order.emplace_front(id, std::make_shared<const LocalFeatures>(std::move(features)));
  impl_->by_id[id] = impl_->order.begin();
  while (impl_->order.size() > impl_->capacity) {
    impl_->by_id.erase(impl_->order.back().first);
    impl_->order.pop_back();
  }
}

std::shared_ptr<const LocalFeatures> FeatureCache::Get(int64_t id) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->by_id.find(id);
  if (it == impl_->by_id.end()) return nullptr;
  impl_->order.splice(impl_->order.begin(), impl_->order, it->second);
  return it->second->second;
}

void FeatureCache::Erase(int64_t id) {
  std::lock_guard lock(impl_->mutex);
  impl_->EraseLocked(id);
}

size_t FeatureCache::size() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->order.size();
}

}  // namespace vpr
