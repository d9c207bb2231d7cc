#include "vpr/dist/process_group.h"

// ProcessGroupGloo is declared only with this set (LibTorch builds it in when Gloo is on).
#define USE_C10D_GLOO 1
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "vpr/util/check.h"
#include "vpr/util/logging.h"

namespace vpr {
namespace {

int EnvInt(const char* name, int fallback) {
  const char* text = std::getenv(name);
  if (!text || !*text) return fallback;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  VPR_CHECK_USAGE(*end == '\0' && value >= 0 && value <= 1 << 20, "environment variable ", name,
                  " must be a non-negative integer, got '", text, "'");
  return static_cast<int>(value);
}

}  // namespace

DistOptions DistOptions::FromEnvironment() {
  DistOptions o;
  o.rank = EnvInt("RANK", o.rank);
  o.world_size = EnvInt("WORLD_SIZE", o.world_size);
  o.local_rank = EnvInt("LOCAL_RANK", o.local_rank);
  o.master_port = EnvInt("MASTER_PORT", o.master_port);
  if (const char* addr = std::getenv("MASTER_ADDR"); addr && *addr) o.master_addr = addr;
  return o;
}

void DistOptions::ParseMaster(const std::string& host_port) {
  const size_t colon = host_port.rfind(':');
  VPR_CHECK_USAGE(colon != std::string::npos && colon > 0 && colon + 1 < host_port.size(),
                  "--master expects HOST:PORT (e.g. 10.0.0.1:29500), got '", host_port, "'");
  master_addr = host_port.substr(0, colon);
  try {
    master_port = std::stoi(host_port.substr(colon + 1));
  } catch (const std::exception&) {
    VPR_CHECK_USAGE(false, "--master expects HOST:PORT with a numeric port, got '", host_port, "'");
  }
}

void DistOptions::Check() const {
  VPR_CHECK_USAGE(world_size >= 1, "--world-size (WORLD_SIZE) must be >= 1, got ", world_size);
  VPR_CHECK_USAGE(rank >= 0 && rank < world_size, "--rank (RANK) must be in 0-", world_size - 1,
                  " for a world of ", world_size, ", got ", rank);
  VPR_CHECK_USAGE(master_port > 0 && master_port <= 65535, "--master port (MASTER_PORT) must be in 1-65535, got ",
                  master_port);
  VPR_CHECK_USAGE(timeout_s >= 1, "--dist-timeout must be at least 1 s, got ", timeout_s);
}

struct ProcessGroup::Impl {
  DistOptions options;
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;

  // c10d reports a missing peer as a c10::Error deep inside Gloo; say what it means.
  [[noreturn]] void Fail(const std::string& what, const std::exception& e) const {
    std::string reason = e.what();
    reason = reason.substr(0, reason.find('\n'));
    VPR_THROW("rank ", options.rank, " of ", options.world_size, ": ", what, " failed (", reason,
              "): another rank died, was never started, or cannot reach ", options.master_addr, ":",
              options.master_port, " within --dist-timeout ", options.timeout_s, " s");
  }
};

ProcessGroup::ProcessGroup(const DistOptions& options) : impl_(std::make_unique<Impl>()) {
  options.Check();
  impl_->options = options;
  const auto timeout = std::chrono::seconds(options.timeout_s);
  try {
    c10d::TCPStoreOptions store;
    store.port = static_cast<uint16_t>(options.master_port);
    // Under torchrun the agent already serves the store at MASTER_PORT and says so.
    const char* agent = std::getenv("TORCHELASTIC_USE_AGENT_STORE");
    store.isServer = options.rank == 0 && !(agent && std::string(agent) == "True");
    store.numWorkers = options.world_size;
    store.waitWorkers = true;
    store.timeout = timeout;
    impl_->store = c10::make_intrusive<c10d::TCPStore>(options.master_addr, store);
    auto gloo = c10d::ProcessGroupGloo::Options::create(timeout);
    // As PyTorch: GLOO_SOCKET_IFNAME picks the interface (machines with several), else the
    // address the hostname resolves to (loopback when it resolves to none).
    const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
    gloo->devices.push_back(ifname && *ifname ? c10d::ProcessGroupGloo::createDeviceForInterface(ifname)
                                              : c10d::ProcessGroupGloo::createDefaultDevice());
    impl_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, options.rank, options.world_size, gloo);
  } catch (const std::exception& e) {
    impl_->Fail("the rendezvous", e);
  }
  Log().info("rank {} of {} joined the group at {}:{} (Gloo)", options.rank, options.world_size, options.master_addr,
             options.master_port);
}

ProcessGroup::~ProcessGroup() = default;
int ProcessGroup::rank() const { return impl_->options.rank; }
int ProcessGroup::size() const { return impl_->options.world_size; }

std::vector<std::string> ProcessGroup::AllGather(const std::string& bytes, const std::string& what) {
  const int n = size();
  try {
    // Sizes first: Gloo gathers tensors of one shape, so every rank pads to the largest.
    std::vector<at::Tensor> size_in = {at::full({1}, static_cast<int64_t>(bytes.size()), at::kLong)};
    std::vector<std::vector<at::Tensor>> size_out(1);
    for (int r = 0; r < n; ++r) size_out[0].push_back(at::empty({1}, at::kLong));
    impl_->group->allgather(size_out, size_in)->wait();
    int64_t longest = 0;
    for (const auto& t : size_out[0]) longest = std::max(longest, t.item<int64_t>());
    at::Tensor mine = at::zeros({std::max<int64_t>(longest, 1)}, at::kByte);
    std::memcpy(mine.data_ptr<uint8_t>(), bytes.data(), bytes.size());
    std::vector<at::Tensor> in = {mine};
    std::vector<std::vector<at::Tensor>> out(1);
    for (int r = 0; r < n; ++r) out[0].push_back(at::empty_like(mine));
    impl_->group->allgather(out, in)->wait();
    std::vector<std::string> all;
    for (int r = 0; r < n; ++r)
      all.emplace_back(reinterpret_cast<const char*>(out[0][r].data_ptr<uint8_t>()), size_out[0][r].item<int64_t>());
    return all;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    impl_->Fail(what, e);
  }
}

namespace {

// Chunks bound the copy Gloo makes for its ring and keep each message well inside the
// timeout on slow links.
constexpr int64_t kReduceChunk = int64_t{1} << 24;

template <typename T>
void AllReduceChunks(c10d::ProcessGroupGloo& group, T* data, int64_t n, at::ScalarType type) {
  for (int64_t begin = 0; begin < n; begin += kReduceChunk) {
    // A view of the caller's memory: Gloo sums in place, no copy back needed.
    std::vector<at::Tensor> tensors = {at::from_blob(data + begin, {std::min(kReduceChunk, n - begin)}, type)};
    group.allreduce(tensors)->wait();
  }
}

}  // namespace

void ProcessGroup::AllReduceSum(float* data, int64_t n, const std::string& what) {
  try {
    AllReduceChunks(*impl_->group, data, n, at::kFloat);
  } catch (const std::exception& e) {
    impl_->Fail(what, e);
  }
}

void ProcessGroup::AllReduceSum(double* data, int64_t n, const std::string& what) {
  try {
    AllReduceChunks(*impl_->group, data, n, at::kDouble);
  } catch (const std::exception& e) {
    impl_->Fail(what, e);
  }
}

void ProcessGroup::Barrier(const std::string& what) {
  try {
    impl_->group->barrier()->wait();
  } catch (const std::exception& e) {
    impl_->Fail(what, e);
  }
}

}  // namespace vpr
