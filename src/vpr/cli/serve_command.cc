// `vpr serve`: the HTTP localisation service until SIGINT or SIGTERM.
#include <signal.h>

#include <iostream>

#include "vpr/cli/commands.h"
#include "vpr/cli/flags.h"
#include "vpr/cli/parse_flags.h"
#include "vpr/serve/localization_server.h"
#include "vpr/util/logging.h"

namespace vpr {
namespace {

void BindServeFlags(CLI::App& app, ServeOptions& o) {
  BindRecognizerFlags(app, o.recognizer);
  app.add_option("--db", o.db, "database (.vprdb) to serve and grow; created when missing (journal: DB.journal)");
  app.add_option("--images", o.images, "build the database at start-up from these images (folder or list)");
  app.add_option("--images-root", o.images_root, "folder the places' names are relative to (thumbnails, rerank; "
                                                 "default: --images)");
  app.add_option("--host", o.host, "address to bind; not loopback needs --api-key-file")->capture_default_str();
  app.add_option("--port", o.port, "port (0 = any free one, logged)")->capture_default_str();
  app.add_option("--http-threads", o.http_threads, "connections served at once")->capture_default_str();
  app.add_option("--queue-capacity", o.queue_capacity, "requests waiting for the model; more get 429")
      ->capture_default_str();
  app.add_option("--max-batch", o.max_batch, "requests described together at most")->capture_default_str();
  app.add_option("--max-body-bytes", o.max_body_bytes, "larger request bodies get 413")->capture_default_str();
  app.add_option("--max-pixels", o.max_pixels, "images declaring more pixels get 400, before decoding")
      ->capture_default_str();
  app.add_option("--read-timeout", o.read_timeout_s, "seconds a client may send nothing")->capture_default_str();
  app.add_option("--write-timeout", o.write_timeout_s, "seconds a client may read nothing")->capture_default_str();
  app.add_option("--request-timeout", o.request_timeout_s, "seconds a request body may take to arrive whole (408)")
      ->capture_default_str();
  app.add_option("--k", o.default_k, "matches returned when a request gives no k")->capture_default_str();
  app.add_option("--max-k", o.max_k, "the largest k (and rerank) a request may ask for")->capture_default_str();
  app.add_option("--api-key-file", o.api_key_file, "file holding the key write requests must send as "
                                                   "'Authorization: Bearer KEY'");
  app.add_option("--cors-origin", o.cors_origin, "send Access-Control-Allow-Origin: ORIGIN (default: no CORS)");
  app.add_option("--ui-dir", o.ui_dir, "serve the web viewer from this folder (development)");
  app.add_option("--snapshot-every", o.snapshot_every, "journal records before the database file is rewritten")
      ->capture_default_str();
  app.add_option("--rerank-margin", o.rerank_margin, "rerank reorders only candidates this close to the top-1")
      ->capture_default_str();
  BindVerifierFlags(app, o.verifier);
}

}  // namespace

int RunServeCommand(int argc, char** argv) {
  CLI::App app("Serve place recognition over HTTP: POST a photo to /v1/localize, get its nearest places.\n"
               "The web viewer is at http://HOST:PORT/. API: README, section \"vpr serve\".",
               "vpr serve");
  ServeOptions o;
  BindServeFlags(app, o);
  VPR_PARSE_FLAGS(app, argc, argv);
  // Blocked before any thread starts, so that every thread inherits the mask and only
  // sigwait below sees the signals.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  LocalizationServer server(o);
  const int port = server.Start();
  std::cout << "vpr serve: http://" << o.host << ":" << port << "/" << std::endl;
  server.Load();
  int signal = 0;
  sigwait(&signals, &signal);
  Log().info("{}: finishing the requests in flight, then writing the database", strsignal(signal));
  server.Stop();
  return 0;
}

}  // namespace vpr
