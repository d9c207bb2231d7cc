#include "vpr/serve/localization_server.h"

#include <httplib.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <nlohmann/json.hpp>

#include <netdb.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <optional>
#include <regex>
#include <thread>

#include "vpr/app/rerank.h"
#include "vpr/geometric_verifier.h"
#include "vpr/image/image_io.h"
#include "vpr/image/image_list.h"
#include "vpr/serve/api_error.h"
#include "vpr/serve/describe_queue.h"
#include "vpr/serve/http_metrics.h"
#include "vpr/serve/place_store.h"
#include "vpr/serve/ui_files.h"
#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"
#include "vpr/util/logging.h"
#include "vpr/util/npy.h"
#include "vpr/util/progress.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// Set when a request has been read (pre-routing), read by the logger that runs on the
// same thread once the response is written.
thread_local std::optional<Clock::time_point> request_start;

struct RouteName {
  std::string method;
  std::regex pattern;
  std::string name;
};

// A bounded pool: connections beyond the threads wait in a short list, and beyond that
// the accept loop waits (the kernel's backlog holds the rest) instead of memory growing.
class BoundedPool : public httplib::TaskQueue {
 public:
  BoundedPool(size_t threads, size_t max_waiting) : max_waiting_(max_waiting) {
    for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
  }
  void enqueue(std::function<void()> fn) override {
    std::unique_lock lock(mutex_);
    space_.wait(lock, [this] { return jobs_.size() < max_waiting_ || shutdown_; });
    jobs_.push_back(std::move(fn));
    ready_.notify_one();
  }
  void shutdown() override {
    {
      std::lock_guard lock(mutex_);
      shutdown_ = true;
    }
    ready_.notify_all();
    space_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  void Work() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [this] { return !jobs_.empty() || shutdown_; });
        if (jobs_.empty()) return;
        fn = std::move(jobs_.front());
        jobs_.pop_front();
        space_.notify_one();
      }
      fn();
    }
  }
  const size_t max_waiting_;
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  bool shutdown_ = false;
};

// httplib 0.11 keeps a connection open whatever the response says, and would parse the
// rest of an unread body as the next request (a slow sender would hold its thread for
// good). Called once the response is written: the connection's socket (the one whose
// peer is the request's) is shut down, which sends the response's end and makes the
// keep-alive loop's next read fail.
void ShutDownConnection(const httplib::Request& req) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc/self/fd", ec)) {
    int fd = -1;
    try {
      fd = std::stoi(entry.path().filename().string());
    } catch (const std::exception&) {
      continue;
    }
    struct stat st {};
    sockaddr_storage peer{}, local{};
    socklen_t peer_length = sizeof(peer), local_length = sizeof(local);
    if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode) ||
        ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_length) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_length) != 0)
      continue;
    char host[NI_MAXHOST], port[NI_MAXSERV], local_port[NI_MAXSERV];
    if (::getnameinfo(reinterpret_cast<sockaddr*>(&peer), peer_length, host, sizeof(host), port, sizeof(port),
                      NI_NUMERICHOST | NI_NUMERICSERV) != 0 ||
        ::getnameinfo(reinterpret_cast<sockaddr*>(&local), local_length, nullptr, 0, local_port, sizeof(local_port),
                      NI_NUMERICSERV) != 0)
      continue;
    if (req.remote_addr == host && std::to_string(req.remote_port) == port &&
        std::to_string(req.local_port) == local_port) {
      ::shutdown(fd, SHUT_RDWR);
      return;
    }
  }
}

// A request's body, read by the route itself so that it can enforce a deadline.
struct Body {
  std::string raw;
  std::map<std::string, httplib::MultipartFormData> parts;  // a multipart form's fields
};

constexpr size_t kMaxParts = 16;

Body ReadBody(const httplib::Request& req, const httplib::ContentReader& reader, int timeout_s, size_t max_bytes) {
  Body body;
  const std::string too_large = "the request body is over the " + std::to_string(max_bytes) +
                                " bytes this server accepts (--max-body-bytes)";
  if (req.get_header_value<uint64_t>("Content-Length") > max_bytes) throw ApiError(413, "body_too_large", too_large);
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  bool late = false, too_many = false;
  size_t total = 0;
  auto append = [&](std::string* into, const char* data, size_t n) {
    if (Clock::now() > deadline) return !(late = true);
    total += n;
    if (total > max_bytes) return false;
    into->append(data, n);
    return true;
  };
  bool ok = false;
  if (req.is_multipart_form_data()) {
    std::string* current = nullptr;
    ok = reader(
        [&](const httplib::MultipartFormData& part) {
          if (body.parts.size() >= kMaxParts) return !(too_many = true);
          current = &(body.parts[part.name] = part).content;
          return true;
        },
        [&](const char* data, size_t n) { return current && append(current, data, n); });
  } else {
    ok = reader([&](const char* data, size_t n) { return append(&body.raw, data, n); });
  }
  if (late)
    throw ApiError(408, "request_timeout",
                   "the request body took more than " + std::to_string(timeout_s) + " s to arrive (--request-timeout)");
  if (too_many) throw ApiError(400, "bad_request", "the multipart form has more than 16 fields");
  if (total > max_bytes) throw ApiError(413, "body_too_large", too_large);  // chunked, without a length
  if (!ok)
    throw ApiError(400, "bad_request", "the request body could not be read: a malformed multipart form, or more "
                                       "than --max-body-bytes, or the connection failed");
  return body;
}

int IntParam(const httplib::Request& req, const std::string& key, int fallback, int lo, int hi) {
  if (!req.has_param(key)) return fallback;
  const std::string text = req.get_param_value(key);
  size_t used = 0;
  long value = 0;
  try {
    value = std::stol(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || value < lo || value > hi)
    throw ApiError(400, "bad_parameter",
                   "parameter '" + key + "' must be an integer in " + std::to_string(lo) + "-" + std::to_string(hi));
  return static_cast<int>(value);
}

double DoubleParam(const std::string& key, const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || !std::isfinite(value))
    throw ApiError(400, "bad_parameter", "parameter '" + key + "' must be a finite number");
  return value;
}

// A field of a multipart form, or else a query parameter.
std::optional<std::string> Field(const httplib::Request& req, const Body& body, const std::string& key) {
  if (auto it = body.parts.find(key); it != body.parts.end()) return it->second.content;
  if (req.has_param(key)) return req.get_param_value(key);
  return std::nullopt;
}

// The image of a request: the multipart field "image", or the whole body when its type
// is image/* or application/octet-stream.
const std::string& ImageBytes(const httplib::Request& req, const Body& body) {
  if (req.is_multipart_form_data()) {
    auto it = body.parts.find("image");
    if (it == body.parts.end())
      throw ApiError(400, "missing_image", "the multipart form has no field 'image' holding the photo");
    return it->second.content;
  }
  const std::string type = req.get_header_value("Content-Type");
  if (type.rfind("image/", 0) != 0 && type.rfind("application/octet-stream", 0) != 0)
    throw ApiError(415, "unsupported_media_type",
                   "send the photo as the body with Content-Type image/jpeg or image/png, or as the field 'image' "
                   "of a multipart/form-data body (got Content-Type '" + type + "')");
  if (body.raw.empty()) throw ApiError(400, "missing_image", "the request body is empty: send a JPEG or PNG");
  return body.raw;
}

json PlaceJson(int64_t id, const PlaceInfo& p) {
  return {{"id", id}, {"name", p.name}, {"position", {p.x, p.y}}, {"time", p.time}};
}

}  // namespace

struct LocalizationServer::Impl {
  ServeOptions options;
  httplib::Server http;
  std::thread listener;
  std::atomic<bool> ready{false};
  std::atomic<bool> stopped{false};
  std::vector<RouteName> routes;
  HttpMetrics metrics;
  std::string api_key;
  fs::path images_root;  // canonical; empty = no thumbnails, no rerank
  int port = 0;
  Clock::time_point started = Clock::now();

  std::unique_ptr<PlaceRecognizer> recognizer;
  std::string model_description;
  int dim = 0;
  std::unique_ptr<DescribeQueue> queue;
  std::unique_ptr<PlaceStore> store;
  GeometricVerifier verifier;
  FeatureCache features{2000};

  explicit Impl(const ServeOptions& o) : options(o), verifier(o.verifier) {}

  // --- set-up -------------------------------------------------------------------
  void Configure();
  using Handler = std::function<void(const httplib::Request&, const Body&, httplib::Response&)>;
  void Route(const std::string& method, const std::string& pattern, const std::string& name, bool needs_ready,
             bool writes, Handler handler);
  std::string RouteOf(const httplib::Request& req) const;
  void CheckKey(const httplib::Request& req) const;
  void LoadDatabase();
  PlaceDatabase BuildDatabase(const std::vector<std::string>& images);

  // --- handlers -----------------------------------------------------------------
  Described DescribeUpload(const httplib::Request& req, const Body& body, double* decode_ms, cv::Mat* image);
  void Health(httplib::Response& res) const;
  void Localize(const httplib::Request& req, const Body& body, httplib::Response& res);
  void DescribeHandler(const httplib::Request& req, const Body& body, httplib::Response& res);
  void AddPlace(const httplib::Request& req, const Body& body, httplib::Response& res);
  void ListPlaces(const httplib::Request& req, httplib::Response& res) const;
  void PlaceImage(const httplib::Request& req, httplib::Response& res);
  void Ui(const std::string& file, httplib::Response& res) const;
  std::optional<fs::path> ImagePath(const std::string& name) const;
  std::vector<Verification> Rerank(const cv::Mat& query, std::vector<Match>* matches, int depth);
};

void LocalizationServer::Impl::Route(const std::string& method, const std::string& pattern, const std::string& name,
                                     bool needs_ready, bool writes, Handler handler) {
  routes.push_back({method, std::regex(pattern), name});
  // Checks, then the body (POST only: read here, under --request-timeout), then the handler.
  auto respond = [this, needs_ready, writes, handler](const httplib::Request& req, httplib::Response& res,
                                                       const httplib::ContentReader* reader) {
    bool body_read = reader == nullptr;
    try {
      // The body first, even when the answer is 401 or 503: the connection stays in step.
      const Body body = reader ? ReadBody(req, *reader, options.request_timeout_s, options.max_body_bytes) : Body{};
      body_read = true;
      if (needs_ready && !ready) throw ApiError(503, "loading", "the model and database are still loading");
      if (writes) CheckKey(req);
      handler(req, body, res);
    } catch (const ApiError& e) {
      res.status = e.status;
      if (e.status == 429 || e.status == 503) res.set_header("Retry-After", "1");
      res.set_content(ErrorBody(e.status, e.code, e.what()), "application/json");
    } catch (const UsageError& e) {
      res.status = 400;
      res.set_content(ErrorBody(400, "bad_request", e.what()), "application/json");
    } catch (const std::exception& e) {
      Log().error("{} {}: {}", req.method, req.path, e.what());
      res.status = 500;
      res.set_content(ErrorBody(500, "internal", e.what()), "application/json");
    } catch (...) {
      res.status = 500;
      res.set_content(ErrorBody(500, "internal", "unknown error"), "application/json");
    }
    // What is left of a body not read whole must not be parsed as the next request.
    if (!body_read) res.set_header("Connection", "close");  // the logger shuts the connection down
  };
  if (method == "POST") {
    http.Post(pattern, [respond](const httplib::Request& req, httplib::Response& res,
                                 const httplib::ContentReader& reader) { respond(req, res, &reader); });
    return;
  }
  auto without_body = [respond](const httplib::Request& req, httplib::Response& res) { respond(req, res, nullptr); };
  if (method == "GET") http.Get(pattern, without_body);
  if (method == "DELETE") http.Delete(pattern, without_body);
}

std::string LocalizationServer::Impl::RouteOf(const httplib::Request& req) const {
  for (const RouteName& r : routes)
    if (r.method == req.method && std::regex_match(req.path, r.pattern)) return r.name;
  return "other";
}

void LocalizationServer::Impl::CheckKey(const httplib::Request& req) const {
  if (api_key.empty()) return;
  const std::string given = req.get_header_value("Authorization");
  const std::string expected = "Bearer " + api_key;
  // Compared in constant time: the key must not leak through response timing.
  unsigned diff = given.size() != expected.size();
  for (size_t i = 0; i < std::min(given.size(), expected.size()); ++i) diff |= given[i] ^ expected[i];
  if (diff) throw ApiError(401, "unauthorized", "this request changes the database: send 'Authorization: Bearer KEY' "
                                                "with the key of the server's --api-key-file");
}

void LocalizationServer::Impl::Configure() {
  http.new_task_queue = [this] { return new BoundedPool(options.http_threads, 2 * options.http_threads); };
  http.set_payload_max_length(options.max_body_bytes);
  http.set_read_timeout(options.read_timeout_s, 0);
  http.set_write_timeout(options.write_timeout_s, 0);
  http.set_keep_alive_timeout(2);
  // httplib writes headers and body apart: with Nagle on, the body waits for the client's
  // delayed ACK of the headers (40 ms a response on Linux).
  http.set_tcp_nodelay(true);
  http.set_keep_alive_max_count(100);
  http.set_pre_routing_handler([this](const httplib::Request&, httplib::Response& res) {
    request_start = Clock::now();
    if (!options.cors_origin.empty()) {
      res.set_header("Access-Control-Allow-Origin", options.cors_origin);
      res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
      res.set_header("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Errors httplib answers itself (404, 413, malformed requests) get our JSON body too.
  http.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req,
                                                                     httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string code = "bad_request", message = "the request is malformed (headers, body or multipart form)";
    if (res.status == 404) code = "not_found", message = "no such route: " + req.method + " " + req.path;
    if (res.status == 405) code = "method_not_allowed", message = req.method + " is not allowed here";
    if (res.status == 413)
      code = "body_too_large", message = "the request body is over the " + std::to_string(options.max_body_bytes) +
                                         " bytes this server accepts (--max-body-bytes)";
    if (res.status == 414) code = "uri_too_long", message = "the request URI is too long";
    res.set_content(ErrorBody(res.status, code, message), "application/json");
    return httplib::Server::HandlerResponse::Handled;
  }));
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    res.status = 500;
    res.set_content(ErrorBody(500, "internal", "the request failed inside the server"), "application/json");
  });
  http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    const double seconds = request_start ? MsSince(*request_start) / 1000 : 0.0;
    request_start.reset();
    metrics.Record(RouteOf(req), res.status, seconds);
    if (res.get_header_value("Connection") == "close") ShutDownConnection(req);
    Log().debug("{} {} -> {} ({:.1f} ms)", req.method, req.path, res.status, 1000 * seconds);
  });
  if (!options.cors_origin.empty())
    http.Options(".*", [](const httplib::Request&, httplib::Response& res) { res.status = 204; });

  using Req = const httplib::Request&;
  using B = const Body&;
  using Res = httplib::Response&;
  Route("GET", "/health", "/health", false, false, [this](Req, B, Res res) { Health(res); });
  Route("GET", "/metrics", "/metrics", false, false, [this](Req, B, Res res) {
    std::map<std::string, double> gauges = {{"queue_depth", queue ? queue->depth() : 0},
                                            {"queue_capacity", options.queue_capacity},
                                            {"database_size", store ? static_cast<double>(store->db().size()) : 0},
                                            {"ready", ready ? 1 : 0},
                                            {"uptime_seconds", MsSince(started) / 1000}};
    res.set_content(metrics.Text(gauges), "text/plain; version=0.0.4");
  });
  Route("GET", "/", "/", false, false, [this](Req, B, Res res) { Ui("index.html", res); });
  Route("GET", R"(/ui/([A-Za-z0-9_.-]+))", "/ui/{file}", false, false,
        [this](Req req, B, Res res) { Ui(req.matches[1], res); });
  Route("POST", "/v1/localize", "/v1/localize", true, false, [this](Req req, B body, Res res) { Localize(req, body, res); });
  Route("POST", "/v1/describe", "/v1/describe", true, false, [this](Req req, B body, Res res) {
    DescribeHandler(req, body, res);
  });
  Route("GET", "/v1/places", "/v1/places", true, false, [this](Req req, B, Res res) { ListPlaces(req, res); });
  Route("POST", "/v1/places", "/v1/places", true, true, [this](Req req, B body, Res res) { AddPlace(req, body, res); });
  Route("GET", R"(/v1/places/(\d{1,18}))", "/v1/places/{id}", true, false, [this](Req req, B, Res res) {
    const int64_t id = std::stoll(req.matches[1]);
    try {
      res.set_content(PlaceJson(id, store->db().Info(id)).dump(), "application/json");
    } catch (const Error&) {
      throw ApiError(404, "no_such_place", "the database has no place " + std::to_string(id));
    }
  });
  Route("DELETE", R"(/v1/places/(\d{1,18}))", "/v1/places/{id}", true, true, [this](Req req, B, Res res) {
    const int64_t id = std::stoll(req.matches[1]);
    if (!store->Remove(id)) throw ApiError(404, "no_such_place", "the database has no place " + std::to_string(id));
    res.set_content(json{{"removed", id}, {"database_size", store->db().size()}}.dump(), "application/json");
  });
  Route("GET", R"(/v1/places/(\d{1,18})/image)", "/v1/places/{id}/image", true, false,
        [this](Req req, B, Res res) { PlaceImage(req, res); });
}

void LocalizationServer::Impl::Health(httplib::Response& res) const {
  if (!ready) {
    res.status = 503;
    res.set_header("Retry-After", "1");
    res.set_content(json{{"status", "loading"}}.dump(), "application/json");
    return;
  }
  res.set_content(json{{"status", "ok"},
                       {"model", options.recognizer.model},
                       {"model_description", model_description},
                       {"dim", dim},
                       {"database_size", store->db().size()},
                       {"durable", store->durable()},
                       {"precision", options.recognizer.precision},
                       {"threads", options.recognizer.threads},
                       {"rerank", !images_root.empty()},
                       {"queue_capacity", options.queue_capacity},
                       {"max_k", options.max_k}}
                      .dump(),
                  "application/json");
}

Described LocalizationServer::Impl::DescribeUpload(const httplib::Request& req, const Body& body, double* decode_ms,
                                                   cv::Mat* image) {
  const std::string& bytes = ImageBytes(req, body);
  const auto start = Clock::now();
  try {
    *image = DecodeImageBgr(bytes, "the uploaded image", options.max_pixels);
  } catch (const Error& e) {
    throw ApiError(400, "bad_image", e.what());
  }
  *decode_ms = MsSince(start);
  auto future = queue->TrySubmit(*image);
  if (!future) throw ApiError(429, "queue_full", "the server is busy (" + std::to_string(options.queue_capacity) +
                                                     " requests waiting for the model): retry shortly");
  return future->get();
}

std::vector<Verification> LocalizationServer::Impl::Rerank(const cv::Mat& query, std::vector<Match>* matches,
                                                            int depth) {
  const LocalFeatures q = verifier.Extract(query);
  std::vector<Verification> verifications;
  const int n = std::min<int>(depth, static_cast<int>(matches->size()));
  for (int r = 0; r < n; ++r) {
    const Match& m = (*matches)[r];
    std::shared_ptr<const LocalFeatures> f = features.Get(m.id);
    if (!f) {
      const std::optional<fs::path> path = ImagePath(m.info.name);
      try {
        if (path) features.Put(m.id, verifier.Extract(LoadImageBgr(path->string())));
      } catch (const Error& e) {
        Log().warn("rerank: place {}: {}", m.id, e.what());
      }
      f = features.Get(m.id);
      if (!f) {
        verifications.push_back({});  // no readable image to verify against: unverified
        continue;
      }
    }
    verifications.push_back(verifier.Verify(q, *f));
  }
  // Only candidates retrieval cannot tell from its top-1 move (RerankOptions::margin).
  std::vector<float> distances;
  const bool ip = store->db().options().metric == "ip";
  for (int r = 0; r < n; ++r) distances.push_back(ip ? 2 - 2 * (*matches)[r].distance : (*matches)[r].distance);
  const std::vector<int> order = RerankOrder(verifications, distances, options.rerank_margin);
  std::vector<Match> reordered;
  std::vector<Verification> verified;
  for (int r : order) {
    reordered.push_back((*matches)[r]);
    verified.push_back(verifications[r]);
  }
  std::copy(reordered.begin(), reordered.end(), matches->begin());
  return verified;
}

void LocalizationServer::Impl::Localize(const httplib::Request& req, const Body& body, httplib::Response& res) {
  const auto start = Clock::now();
  const int k = IntParam(req, "k", options.default_k, 1, options.max_k);
  const int rerank = IntParam(req, "rerank", 0, 0, options.max_k);
  if (rerank > 0 && images_root.empty())
    throw ApiError(400, "rerank_unavailable",
                   "rerank needs the database images: start the server with --images-root DIR (or --images)");
  double decode_ms = 0;
  cv::Mat image;
  const Described d = DescribeUpload(req, body, &decode_ms, &image);
  const auto query_start = Clock::now();
  std::vector<Match> matches = store->db().Query(d.descriptor, std::max(k, rerank));
  const double query_ms = MsSince(query_start);
  const auto verify_start = Clock::now();
  std::vector<Verification> verifications;
  if (rerank > 0) verifications = Rerank(image, &matches, rerank);
  const double verify_ms = MsSince(verify_start);
  if (static_cast<int>(matches.size()) > k) matches.resize(k);
  json out = {{"matches", json::array()}};
  for (size_t r = 0; r < matches.size(); ++r) {
    json m = PlaceJson(matches[r].id, matches[r].info);
    m["distance"] = matches[r].distance;
    if (r < verifications.size()) m["inliers"] = verifications[r].inliers, m["verified"] = verifications[r].verified;
    out["matches"].push_back(m);
  }
  // The estimate is the best match's position (what recall@1 measures).
  out["position"] = matches.empty() ? json(nullptr) : json{matches[0].info.x, matches[0].info.y};
  out["ms"] = {{"decode", decode_ms}, {"queue", d.queue_ms}, {"describe", d.describe_ms},
               {"query", query_ms},   {"verify", verify_ms},  {"total", MsSince(start)}};
  out["batch"] = d.batch;
  res.set_content(out.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void LocalizationServer::Impl::DescribeHandler(const httplib::Request& req, const Body& body,
                                               httplib::Response& res) {
  double decode_ms = 0;
  cv::Mat image;
  const Described d = DescribeUpload(req, body, &decode_ms, &image);
  if (req.get_header_value("Accept").find("application/octet-stream") != std::string::npos) {
    res.set_content(NpyBytes(d.descriptor.data(), 1, static_cast<int64_t>(d.descriptor.size())),
                    "application/octet-stream");
    return;
  }
  res.set_content(json{{"dim", d.descriptor.size()}, {"descriptor", d.descriptor}}.dump(), "application/json");
}

void LocalizationServer::Impl::AddPlace(const httplib::Request& req, const Body& body, httplib::Response& res) {
  const std::optional<std::string> name = Field(req, body, "name");
  if (!name || name->empty()) throw ApiError(400, "missing_name", "a place needs a 'name' (form field or parameter)");
  PlaceInfo info;
  info.name = *name;
  for (auto [key, value] : {std::pair{"x", &info.x}, {"y", &info.y}, {"time", &info.time}})
    if (auto text = Field(req, body, key)) *value = DoubleParam(key, *text);
  double decode_ms = 0;
  cv::Mat image;
  const Described d = DescribeUpload(req, body, &decode_ms, &image);
  const int64_t id = store->Add(d.descriptor, info);
  features.Erase(id);
  res.status = 201;
  json out = PlaceJson(id, info);
  out["database_size"] = store->db().size();
  out["durable"] = store->durable();
  res.set_content(out.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void LocalizationServer::Impl::ListPlaces(const httplib::Request& req, httplib::Response& res) const {
  const int offset = IntParam(req, "offset", 0, 0, std::numeric_limits<int>::max());
  const int limit = IntParam(req, "limit", 1000, 1, 100000);
  const std::vector<int64_t> ids = store->db().Ids();
  json places = json::array();
  for (size_t i = offset; i < ids.size() && places.size() < static_cast<size_t>(limit); ++i) {
    try {
      places.push_back(PlaceJson(ids[i], store->db().Info(ids[i])));
    } catch (const Error&) {
      // removed since Ids() was taken
    }
  }
  res.set_content(json{{"total", ids.size()}, {"offset", offset}, {"places", places}}.dump(-1, ' ', false,
                                                                                           json::error_handler_t::replace),
                  "application/json");
}

// The file a place's name refers to under --images-root, never anything outside it.
std::optional<fs::path> LocalizationServer::Impl::ImagePath(const std::string& name) const {
  if (images_root.empty() || name.empty() || name.find('\0') != std::string::npos) return std::nullopt;
  std::error_code ec;
  const fs::path candidate = fs::weakly_canonical(images_root / fs::path(name).relative_path(), ec);
  if (ec) return std::nullopt;
  // Component by component: "/data/root2" must not pass as inside "/data/root".
  auto [root_end, unused] = std::mismatch(images_root.begin(), images_root.end(), candidate.begin(), candidate.end());
  if (root_end != images_root.end() || !fs::is_regular_file(candidate, ec)) return std::nullopt;
  return candidate;
}

void LocalizationServer::Impl::PlaceImage(const httplib::Request& req, httplib::Response& res) {
  const int64_t id = std::stoll(req.matches[1]);
  PlaceInfo info;
  try {
    info = store->db().Info(id);
  } catch (const Error&) {
    throw ApiError(404, "no_such_place", "the database has no place " + std::to_string(id));
  }
  const std::optional<fs::path> path = ImagePath(info.name);
  if (!path)
    throw ApiError(404, "no_image", "place " + std::to_string(id) + " has no image under --images-root");
  const int size = IntParam(req, "size", 256, 16, 1024);
  cv::Mat image = LoadImageBgr(path->string());
  const double scale = static_cast<double>(size) / std::max(image.rows, image.cols);
  if (scale < 1) cv::resize(image, image, cv::Size(), scale, scale, cv::INTER_AREA);
  std::vector<uchar> jpeg;
  cv::imencode(".jpg", image, jpeg, {cv::IMWRITE_JPEG_QUALITY, 85});
  res.set_header("Cache-Control", "max-age=3600");
  res.set_content(std::string(jpeg.begin(), jpeg.end()), "image/jpeg");
}

void LocalizationServer::Impl::Ui(const std::string& file, httplib::Response& res) const {
  if (!options.ui_dir.empty()) {
    const fs::path path = fs::path(options.ui_dir) / file;  // file matched [A-Za-z0-9_.-]+
    if (file.find("..") == std::string::npos && fs::is_regular_file(path)) {
      res.set_content(ReadFileBytes(path.string()), UiContentType(file));
      return;
    }
  } else if (const std::string_view* bytes = EmbeddedUiFile(file)) {
    res.set_content(std::string(*bytes), UiContentType(file));
    return;
  }
  throw ApiError(404, "not_found", "no such page: /ui/" + file);
}

PlaceDatabase LocalizationServer::Impl::BuildDatabase(const std::vector<std::string>& images) {
  PlaceDatabase db(dim);
  Progress progress("describing the database images", static_cast<int64_t>(images.size()));
  int64_t failed = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    try {
      fs::path name = fs::path(images[i]);
      std::error_code ec;
      if (!images_root.empty()) {
        const fs::path relative = fs::relative(fs::weakly_canonical(name, ec), images_root, ec);
        if (!ec && !relative.empty() && *relative.begin() != "..") name = relative;
      }
      db.Add(recognizer->Describe(LoadImageBgr(images[i])), PlaceInfo{name.string(), 0, 0, static_cast<double>(i)});
    } catch (const Error& e) {
      ++failed;
      Log().warn("skipped {}: {}", images[i], e.what());
    }
    progress.Add(1);
  }
  progress.Finish();
  Log().info("database built: {} places from {} images ({} failed)", db.size(), images.size(), failed);
  return db;
}

void LocalizationServer::Impl::LoadDatabase() {
  const bool exists = !options.db.empty() && fs::exists(options.db);
  VPR_CHECK_USAGE(!(exists && !options.images.empty()), "'", options.db,
                  "' exists already: serve it without --images, or give a new --db path to build one from --images");
  if (options.images.empty()) {
    store = PlaceStore::Open(options.db, dim, options.snapshot_every);
    Log().info("serving '{}' ({} places{})", options.db, store->db().size(),
               store->replayed() ? ", " + std::to_string(store->replayed()) + " journal records replayed" : "");
    return;
  }
  PlaceDatabase db = BuildDatabase(CollectImages({options.images}));
  if (options.db.empty()) {
    Log().warn("no --db given: the database lives in memory only, and places added are lost when the server stops");
    store = std::make_unique<PlaceStore>(std::move(db));
  } else {
    store = PlaceStore::Create(options.db, std::move(db), options.snapshot_every);
  }
}

LocalizationServer::LocalizationServer(const ServeOptions& options) : impl_(std::make_unique<Impl>(options)) {
  options.Check();
  if (!options.api_key_file.empty()) {
    std::string key = ReadFileBytes(options.api_key_file);
    while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
    VPR_CHECK_USAGE(key.size() >= 16, "--api-key-file '", options.api_key_file,
                    "' must hold a key of at least 16 characters (e.g. from `openssl rand -hex 16`)");
    impl_->api_key = key;
  }
  std::string root = options.images_root;
  if (root.empty() && !options.images.empty() && fs::is_directory(options.images)) root = options.images;
  if (!root.empty()) {
    VPR_CHECK_USAGE(fs::is_directory(root), "--images-root '", root, "' is not a folder");
    impl_->images_root = fs::canonical(root);
  }
  impl_->Configure();
}

LocalizationServer::~LocalizationServer() {
  try {
    Stop();
  } catch (const std::exception& e) {
    Log().error("stopping the server: {}", e.what());
  }
}

int LocalizationServer::Start() {
  Impl& s = *impl_;
  // A client that hangs up mid-response must cost an error return, not the process.
  ::signal(SIGPIPE, SIG_IGN);
  if (s.options.port == 0) {
    s.port = s.http.bind_to_any_port(s.options.host);
    VPR_CHECK(s.port > 0, "cannot bind a port on ", s.options.host);
  } else {
    VPR_CHECK(s.http.bind_to_port(s.options.host, s.options.port), "cannot bind ", s.options.host, ":",
              s.options.port, " (in use by another process, or not an address of this machine): choose another --port");
    s.port = s.options.port;
  }
  s.listener = std::thread([&s] { s.http.listen_after_bind(); });
  // stop() before the accept loop runs would be lost, and the loop would never end.
  while (!s.http.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  Log().info("listening on http://{}:{}/ (loading)", s.options.host, s.port);
  return s.port;
}

void LocalizationServer::Load() {
  Impl& s = *impl_;
  s.recognizer = std::make_unique<PlaceRecognizer>(s.options.recognizer);
  s.dim = s.recognizer->dim();
  s.model_description = s.recognizer->Describe();
  s.LoadDatabase();
  PlaceRecognizer* recognizer = s.recognizer.get();
  s.queue = std::make_unique<DescribeQueue>(
      [recognizer](const std::vector<cv::Mat>& images) { return recognizer->Describe(images); },
      s.options.queue_capacity, s.options.max_batch);
  s.ready = true;
  Log().info("ready: {} places, {}", s.store->db().size(), s.model_description);
}

bool LocalizationServer::ready() const { return impl_->ready; }

void LocalizationServer::Stop() {
  Impl& s = *impl_;
  if (s.stopped.exchange(true)) return;
  // stop() closes the listening socket; listen_after_bind returns once the pool has
  // finished the connections it holds.
  s.http.stop();
  if (s.listener.joinable()) s.listener.join();
  s.queue.reset();
  if (s.store) s.store->Flush();
  Log().info("stopped");
}

}  // namespace vpr
