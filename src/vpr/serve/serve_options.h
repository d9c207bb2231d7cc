// What `vpr serve` serves, where, and the limits that keep a hostile client from hurting it.
#pragma once

#include <cstdint>
#include <string>

#include "vpr/app/rerank.h"
#include "vpr/geometric_verifier.h"
#include "vpr/place_recognizer.h"

namespace vpr {

struct ServeOptions {
  RecognizerOptions recognizer;
  // Geometric verification of ?rerank=N (needs the database images: --images-root).
  VerifierOptions verifier;
  // ... which reorders only candidates within this squared-L2 distance of the top-1's
  // (vpr eval --rerank-margin; see RerankOptions).
  double rerank_margin = RerankOptions{}.margin;  // 0.15
  // The database (.vprdb) to serve and grow; with --images and no such file, built and
  // written there. Acknowledged adds go to "<db>.journal" first, so they survive a kill.
  std::string db;
  // Build the database at start-up from these images (a folder or a list file); without
  // --db it lives in memory only.
  std::string images;
  // Thumbnails of places are read from here (names are relative to it); default: --images.
  std::string images_root;
  std::string host = "127.0.0.1";
  int port = 8080;  // 0 = any free port (logged)
  // Connections served at once (each holds its decoded image while it waits for the
  // model); more wait in the kernel's accept queue.
  int http_threads = 16;
  // Requests waiting for the model; a full queue answers 429 at once (below http_threads,
  // or it could never fill). The model describes about 25 photos/s at 320 px on 2 cores.
  int queue_capacity = 8;
  // Requests that arrive together are described in one batch of at most this many.
  int max_batch = 8;
  int64_t max_body_bytes = 32 << 20;  // larger bodies: 413
  // Images declaring more pixels are refused (400) before decoding: 40 MP.
  int64_t max_pixels = 40'000'000;
  int read_timeout_s = 10;   // a slow sender is cut off after this long without data
  int write_timeout_s = 10;  // ... and a slow reader
  // A request body must have arrived whole this long after its headers (a sender that
  // dribbles a byte at a time never trips the read timeout); later: 408, connection closed.
  int request_timeout_s = 30;
  int default_k = 5;         // matches returned when the request gives no k
  int max_k = 100;           // the largest k a request may ask for
  // A file holding the key that write requests (POST/DELETE /v1/places) must send as
  // "Authorization: Bearer KEY"; required when host is not a loopback address.
  std::string api_key_file;
  // Origin sent in Access-Control-Allow-Origin; empty = no CORS headers (same origin only).
  std::string cors_origin;
  // Serve the web viewer from this folder instead of the copy built into the binary.
  std::string ui_dir;
  // Journal records after which the database is rewritten whole and the journal emptied.
  int snapshot_every = 1000;

  // Throws vpr::UsageError naming the flag and its allowed range.
  void Check() const;
  bool loopback() const;
};

}  // namespace vpr
