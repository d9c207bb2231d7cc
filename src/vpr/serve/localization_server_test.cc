#include "vpr/serve/localization_server.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <thread>

#include "vpr/model/test_model.h"
#include "vpr/model/model_io.h"
#include "vpr/place_database.h"
#include "vpr/place_recognizer.h"
#include "vpr/test_config.h"
#include "vpr/util/atomic_file.h"
#include "vpr/util/npy.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;

struct Files {
  fs::path dir;
  std::string model;
  fs::path images;  // img0.png ... img4.png
};

// A tiny checkpoint recording max side 40, and five noise images of 60 x 80.
const Files& Fixture() {
  static const Files files = [] {
    Files f;
    f.dir = fs::path(VPR_BINARY_DIR) / "test_scratch" / "serve" / ("server_" + std::to_string(getpid()));
    fs::remove_all(f.dir);
    f.images = f.dir / "images";
    fs::create_directories(f.images);
    f.model = (f.dir / "tiny.pth").string();
    ResizeOptions resize;
    resize.max_side = 40;
    VprModel model = TinyTestModel();
    SaveModel(f.model, model, {{"resize", ResizeRecord(resize)}});
    cv::RNG rng(3);
    for (int i = 0; i < 5; ++i) {
      cv::Mat image(60, 80, CV_8UC3);
      rng.fill(image, cv::RNG::UNIFORM, 0, 255);
      cv::imwrite((f.images / ("img" + std::to_string(i) + ".png")).string(), image);
    }
    return f;
  }();
  return files;
}

std::string Png(int i) { return ReadFileBytes((Fixture().images / ("img" + std::to_string(i) + ".png")).string()); }

ServeOptions Options() {
  ServeOptions o;
  o.recognizer.model = Fixture().model;
  o.recognizer.threads = 1;
  o.images = Fixture().images.string();
  o.port = 0;
  o.http_threads = 4;
  o.max_body_bytes = 1 << 20;
  o.read_timeout_s = 2;
  return o;
}

struct Running {
  explicit Running(const ServeOptions& o, bool load = true) : server(o) {
    port = server.Start();
    if (load) server.Load();
    client = std::make_unique<httplib::Client>("127.0.0.1", port);
    client->set_read_timeout(30, 0);
  }
  LocalizationServer server;
  int port = 0;
  std::unique_ptr<httplib::Client> client;
};

// A client that writes exactly the bytes given, for requests no well-behaved client sends.
class RawConnection {
 public:
  explicit RawConnection(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  }
  ~RawConnection() { ::close(fd_); }
  bool connected() const { return connected_; }
  void Send(const std::string& bytes) { ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL); }
  // What has arrived so far, without waiting.
  std::string Poll() {
    char buffer[4096];
    const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n > 0) received_.append(buffer, n);
    return received_;
  }

 private:
  int fd_;
  bool connected_ = false;
  std::string received_;
};

json Body(const httplib::Result& r) { return json::parse(r->body); }

// Every error: the one JSON shape, and the status and code expected.
void ExpectError(const httplib::Result& r, int status, const std::string& code) {
  ASSERT_TRUE(r) << "no response for the expected " << status << " " << code << ": " << httplib::to_string(r.error());
  EXPECT_EQ(r->status, status) << r->body;
  const json body = json::parse(r->body);
  EXPECT_EQ(body["error"]["code"], code) << r->body;
  EXPECT_FALSE(body["error"]["message"].get<std::string>().empty());
  EXPECT_TRUE(body["error"].contains("type"));
}

TEST(LocalizationServer, AnswersLoadingUntilTheModelAndDatabaseAreReady) {
  Running s(Options(), /*load=*/false);
  auto health = s.client->Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 503);
  EXPECT_EQ(Body(health)["status"], "loading");
  ExpectError(s.client->Post("/v1/localize", Png(0), "image/png"), 503, "loading");
  s.server.Load();
  health = s.client->Get("/health");
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(Body(health)["status"], "ok");
  EXPECT_EQ(Body(health)["database_size"], 5);
  EXPECT_EQ(Body(health)["dim"], PlaceRecognizer({Fixture().model}).dim());
}

TEST(LocalizationServer, LocalizesAPhotoAsItsOwnDatabaseImageRawOrMultipart) {
  Running s(Options());
  auto r = s.client->Post("/v1/localize?k=3", Png(2), "image/png");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json raw = Body(r);
  ASSERT_EQ(raw["matches"].size(), 3u);
  EXPECT_EQ(raw["matches"][0]["name"], "img2.png");
  EXPECT_NEAR(raw["matches"][0]["distance"].get<double>(), 0.0, 1e-4);
  EXPECT_EQ(raw["position"], raw["matches"][0]["position"]);
  EXPECT_TRUE(raw["ms"].contains("describe"));
  httplib::MultipartFormDataItems form = {{"image", Png(4), "img4.png", "image/png"}};
  const json multipart = Body(s.client->Post("/v1/localize", form));
  EXPECT_EQ(multipart["matches"].size(), 5u) << "the default k";
  EXPECT_EQ(multipart["matches"][0]["name"], "img4.png");
}

TEST(LocalizationServer, RerankVerifiesTheTopCandidatesAgainstTheDatabaseImages) {
  // Scenes of random blocks, large enough for ORB's keypoints.
  const fs::path dir = Fixture().dir / ("scenes_" + std::to_string(getpid()));
  fs::create_directories(dir);
  cv::RNG rng(8);
  for (int i = 0; i < 3; ++i) {
    cv::Mat scene(240, 320, CV_8UC3, cv::Scalar::all(128));
    for (int b = 0; b < 150; ++b) {
      const cv::Point corner(rng.uniform(0, 300), rng.uniform(0, 220));
      cv::rectangle(scene, corner, corner + cv::Point(rng.uniform(4, 30), rng.uniform(4, 30)),
                    cv::Scalar(rng.uniform(0, 255), rng.uniform(0, 255), rng.uniform(0, 255)), cv::FILLED);
    }
    cv::imwrite((dir / ("scene" + std::to_string(i) + ".png")).string(), scene);
  }
  ServeOptions o = Options();
  o.images = dir.string();
  Running s(o);
  auto r = s.client->Post("/v1/localize?k=2&rerank=3", ReadFileBytes((dir / "scene1.png").string()), "image/png");
  ASSERT_EQ(r->status, 200) << r->body;
  const json j = Body(r);
  ASSERT_EQ(j["matches"].size(), 2u);
  EXPECT_EQ(j["matches"][0]["name"], "scene1.png") << "the image itself: distance 0, and the most inliers";
  EXPECT_TRUE(j["matches"][0].contains("inliers"));
  EXPECT_TRUE(j["matches"][0]["verified"].get<bool>()) << r->body;
  ServeOptions no_root = Options();
  no_root.images.clear();
  no_root.db = (Fixture().dir / ("rerank_" + std::to_string(getpid()) + ".vprdb")).string();
  Running bare(no_root);
  ExpectError(bare.client->Post("/v1/localize?rerank=3", Png(1), "image/png"), 400, "rerank_unavailable");
}

TEST(LocalizationServer, DescribeGivesTheLibrarysDescriptorAsJsonOrNpy) {
  Running s(Options());
  PlaceRecognizer recognizer({Fixture().model});
  const std::vector<float> expected = recognizer.Describe(cv::imread((Fixture().images / "img1.png").string()));
  const json j = Body(s.client->Post("/v1/describe", Png(1), "image/png"));
  ASSERT_EQ(j["dim"], expected.size());
  // The server's queue may batch; batched and single forwards round differently on some
  // CPUs (AMD EPYC here: 2e-9 on a value of 4.7e-4), so equal within float noise.
  for (size_t i = 0; i < expected.size(); ++i) ASSERT_NEAR(j["descriptor"][i].get<float>(), expected[i], 1e-5) << i;
  auto npy = s.client->Post("/v1/describe", {{"Accept", "application/octet-stream"}}, Png(1), "image/png");
  ASSERT_EQ(npy->status, 200);
  const NpyMatrix m = ReadNpyBytes(npy->body, "response");
  EXPECT_EQ(m.rows, 1);
  ASSERT_EQ(m.data.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) ASSERT_NEAR(m.data[i], expected[i], 1e-5) << i;
}

TEST(LocalizationServer, PlacesCanBeAddedReadListedShownAndRemoved) {
  Running s(Options());
  httplib::MultipartFormDataItems form = {{"image", Png(3), "x.png", "image/png"},
                                          {"name", "img3.png", "", ""},
                                          {"x", "12.5", "", ""},
                                          {"y", "-3", "", ""}};
  auto added = s.client->Post("/v1/places", form);
  ASSERT_EQ(added->status, 201) << added->body;
  const int64_t id = Body(added)["id"];
  EXPECT_EQ(id, 5);
  EXPECT_EQ(Body(added)["database_size"], 6);
  const json place = Body(s.client->Get("/v1/places/5"));
  EXPECT_EQ(place["name"], "img3.png");
  EXPECT_EQ(place["position"], json({12.5, -3.0}));
  const json list = Body(s.client->Get("/v1/places?offset=4&limit=10"));
  EXPECT_EQ(list["total"], 6);
  ASSERT_EQ(list["places"].size(), 2u);
  EXPECT_EQ(list["places"][1]["id"], 5);
  auto thumbnail = s.client->Get("/v1/places/5/image?size=32");
  ASSERT_EQ(thumbnail->status, 200);
  EXPECT_EQ(thumbnail->get_header_value("Content-Type"), "image/jpeg");
  const cv::Mat decoded = cv::imdecode(std::vector<uchar>(thumbnail->body.begin(), thumbnail->body.end()),
                                       cv::IMREAD_COLOR);
  EXPECT_EQ(std::max(decoded.rows, decoded.cols), 32);
  // The new place and img3.png are both at distance 0 from the photo.
  const json found = Body(s.client->Post("/v1/localize?k=2", Png(3), "image/png"));
  EXPECT_EQ(found["matches"][0]["name"], "img3.png");
  EXPECT_EQ(found["matches"][1]["name"], "img3.png");
  EXPECT_EQ(s.client->Delete("/v1/places/5")->status, 200);
  ExpectError(s.client->Get("/v1/places/5"), 404, "no_such_place");
  ExpectError(s.client->Delete("/v1/places/5"), 404, "no_such_place");
  EXPECT_EQ(Body(s.client->Get("/health"))["database_size"], 5);
}

TEST(LocalizationServer, EveryErrorHasOneShapeAndTheRightStatus) {
  Running s(Options());
  ExpectError(s.client->Post("/v1/localize", "not an image at all", "image/jpeg"), 400, "bad_image");
  const std::string png = Png(0);
  ExpectError(s.client->Post("/v1/localize", png.substr(0, png.size() / 2), "image/png"), 400, "bad_image");
  // A PNG header declaring 20000 x 20000 pixels: refused before any pixel is decoded.
  std::string bomb = png.substr(0, 33);
  for (int at : {16, 20}) bomb[at] = 0, bomb[at + 1] = 0, bomb[at + 2] = 0x4e, bomb[at + 3] = 0x20;
  auto r = s.client->Post("/v1/localize", bomb + png.substr(33), "image/png");
  ExpectError(r, 400, "bad_image");
  EXPECT_NE(r->body.find("refused before decoding"), std::string::npos) << r->body;
  ExpectError(s.client->Post("/v1/localize", png, "text/plain"), 415, "unsupported_media_type");
  ExpectError(s.client->Post("/v1/localize", "", "image/png"), 400, "missing_image");
  ExpectError(s.client->Post("/v1/localize?k=0", png, "image/png"), 400, "bad_parameter");
  ExpectError(s.client->Post("/v1/localize?k=5x", png, "image/png"), 400, "bad_parameter");
  ExpectError(s.client->Post("/v1/localize?k=101", png, "image/png"), 400, "bad_parameter");
  httplib::MultipartFormDataItems no_image = {{"photo", png, "a.png", "image/png"}};
  ExpectError(s.client->Post("/v1/localize", no_image), 400, "missing_image");
  ExpectError(s.client->Post("/v1/places", png, "image/png"), 400, "missing_name");
  ExpectError(s.client->Post("/v1/places?name=a&x=nan", png, "image/png"), 400, "bad_parameter");
  ExpectError(s.client->Get("/v1/nothing"), 404, "not_found");
  ExpectError(s.client->Get("/v1/places/99"), 404, "no_such_place");
  ExpectError(s.client->Get("/ui/missing.js"), 404, "not_found");
  // A multipart body with a boundary that never comes.
  ExpectError(s.client->Post("/v1/localize", "--zzz\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nabc",
                             "multipart/form-data; boundary=zzz"),
              400, "bad_request");
  EXPECT_EQ(s.client->Get("/health")->status, 200) << "still serving";
}

TEST(LocalizationServer, NoPathFromARequestIsOpenedOutsideTheImagesRoot) {
  Running s(Options());
  const fs::path outside = Fixture().dir / "secret.png";
  fs::copy_file(Fixture().images / "img0.png", outside, fs::copy_options::overwrite_existing);
  for (const std::string& name : std::vector<std::string>{"../secret.png", (Fixture().dir / "secret.png").string(), "img0.png/../../secret.png"}) {
    auto added = s.client->Post("/v1/places?name=" + httplib::detail::encode_query_param(name), Png(0), "image/png");
    ASSERT_EQ(added->status, 201) << added->body;
    const int64_t id = Body(added)["id"];
    ExpectError(s.client->Get("/v1/places/" + std::to_string(id) + "/image"), 404, "no_image");
  }
  EXPECT_EQ(s.client->Get("/v1/places/0/image")->status, 200);
  EXPECT_EQ(s.client->Get("/ui/..%2Fserve_options.h")->status, 404);
}

TEST(LocalizationServer, WritesNeedTheKeyWhenThereIsOne) {
  const std::string key_file = (Fixture().dir / "key.txt").string();
  WriteFileAtomic(key_file, "0123456789abcdef0123\n");
  ServeOptions o = Options();
  o.api_key_file = key_file;
  Running s(o);
  ExpectError(s.client->Post("/v1/places?name=a", Png(0), "image/png"), 401, "unauthorized");
  ExpectError(s.client->Post("/v1/places?name=a", {{"Authorization", "Bearer wrong"}}, Png(0), "image/png"), 401,
              "unauthorized");
  ExpectError(s.client->Delete("/v1/places/0"), 401, "unauthorized");
  auto ok = s.client->Post("/v1/places?name=a", {{"Authorization", "Bearer 0123456789abcdef0123"}}, Png(0), "image/png");
  EXPECT_EQ(ok->status, 201) << ok->body;
  EXPECT_EQ(s.client->Post("/v1/localize", Png(0), "image/png")->status, 200) << "reads need no key";
  ServeOptions open = Options();
  open.host = "0.0.0.0";
  EXPECT_THROW(LocalizationServer{open}, UsageError) << "not loopback and no key";
}

TEST(LocalizationServer, MetricsCountRequestsByRouteAndStatus) {
  Running s(Options());
  s.client->Post("/v1/localize", Png(0), "image/png");
  s.client->Post("/v1/localize", "junk", "image/png");
  s.client->Get("/v1/places/77");
  // httplib logs a request after its response is written: wait for the last one.
  std::string text;
  for (int i = 0; i < 100 && text.find("/v1/places/{id}") == std::string::npos; ++i) {
    if (i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    text = s.client->Get("/metrics")->body;
  }
  EXPECT_NE(text.find("vpr_http_requests_total{route=\"/v1/localize\",status=\"200\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("vpr_http_requests_total{route=\"/v1/localize\",status=\"400\"} 1"), std::string::npos);
  EXPECT_NE(text.find("vpr_http_requests_total{route=\"/v1/places/{id}\",status=\"404\"} 1"), std::string::npos);
  EXPECT_NE(text.find("vpr_database_size 5"), std::string::npos);
  EXPECT_NE(text.find("vpr_queue_depth 0"), std::string::npos);
}

TEST(LocalizationServer, ServesTheViewerBuiltIn) {
  Running s(Options());
  auto page = s.client->Get("/");
  ASSERT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("/ui/app.js"), std::string::npos);
  EXPECT_NE(s.client->Get("/ui/app.js")->body.find("/v1/localize"), std::string::npos);
  EXPECT_EQ(s.client->Get("/ui/style.css")->get_header_value("Content-Type"), "text/css; charset=utf-8");
}

TEST(LocalizationServer, StopWritesTheDatabaseWithThePlacesAdded) {
  ServeOptions o = Options();
  o.db = (Fixture().dir / ("stop_" + std::to_string(getpid()) + ".vprdb")).string();
  fs::remove(o.db);
  {
    Running s(o);
    ASSERT_EQ(s.client->Post("/v1/places?name=new", Png(1), "image/png")->status, 201);
    s.server.Stop();
  }
  EXPECT_EQ(PlaceDatabase::Load(o.db).size(), 6);
  ServeOptions again = Options();
  again.images.clear();
  again.images_root = Fixture().images.string();
  again.db = o.db;
  Running s(again);
  EXPECT_EQ(Body(s.client->Get("/health"))["database_size"], 6);
  EXPECT_EQ(Body(s.client->Get("/v1/places/5"))["name"], "new");
}

// Headers at once, then a byte every 300 ms: each read succeeds, so only the request
// deadline can free the thread.
TEST(LocalizationServer, ASlowSenderIsCutOffAtTheRequestTimeout) {
  ServeOptions o = Options();
  o.request_timeout_s = 1;
  Running s(o);
  RawConnection c(s.port);
  ASSERT_TRUE(c.connected());
  c.Send("POST /v1/localize HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n");
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 40 && c.Poll().find("\r\n\r\n") == std::string::npos; ++i) {
    c.Send("x");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_NE(c.Poll().find("HTTP/1.1 408"), std::string::npos) << c.Poll();
  EXPECT_NE(c.Poll().find("request_timeout"), std::string::npos) << c.Poll();
  EXPECT_LT(seconds, 5.0);
  EXPECT_EQ(s.client->Get("/health")->status, 200);
}

// The length is refused from the headers: the server answers before reading the body.
TEST(LocalizationServer, ABodyOverTheLimitIsRefusedFromItsDeclaredLength) {
  Running s(Options());
  RawConnection c(s.port);
  ASSERT_TRUE(c.connected());
  c.Send("POST /v1/localize HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 2000000\r\n\r\n" +
         std::string(1000, 'x'));
  for (int i = 0; i < 100 && c.Poll().find("}") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_NE(c.Poll().find("HTTP/1.1 413"), std::string::npos) << c.Poll();
  EXPECT_NE(c.Poll().find("body_too_large"), std::string::npos) << c.Poll();
  EXPECT_NE(c.Poll().find("Connection: close"), std::string::npos) << c.Poll();
}

}  // namespace
}  // namespace vpr
