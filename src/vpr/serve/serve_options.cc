#include "vpr/serve/serve_options.h"

#include "vpr/util/check.h"

namespace vpr {

bool ServeOptions::loopback() const {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

void ServeOptions::Check() const {
  VPR_CHECK_USAGE(!recognizer.model.empty(), "--model is required: the checkpoint that describes the images");
  VPR_CHECK_USAGE(!db.empty() || !images.empty(), "give --db MAP.vprdb (a database to serve) or --images DIR "
                  "(build one at start-up), or both (build it into --db)");
  VPR_CHECK_USAGE(port >= 0 && port <= 65535, "--port must be in 0-65535 (0 = any free port), got ", port);
  VPR_CHECK_USAGE(http_threads >= 1 && http_threads <= 1024, "--http-threads must be in 1-1024, got ", http_threads);
  VPR_CHECK_USAGE(queue_capacity >= 1 && queue_capacity <= 100000, "--queue-capacity must be in 1-100000, got ",
                  queue_capacity);
  VPR_CHECK_USAGE(max_batch >= 1 && max_batch <= 256, "--max-batch must be in 1-256, got ", max_batch);
  VPR_CHECK_USAGE(max_body_bytes >= 1024, "--max-body-bytes must be at least 1024, got ", max_body_bytes);
  VPR_CHECK_USAGE(max_pixels >= 1, "--max-pixels must be positive, got ", max_pixels);
  VPR_CHECK_USAGE(read_timeout_s >= 1 && write_timeout_s >= 1 && request_timeout_s >= 1,
                  "--read-timeout, --write-timeout and --request-timeout must be >= 1 s");
  VPR_CHECK_USAGE(max_k >= 1 && max_k <= 10000, "--max-k must be in 1-10000, got ", max_k);
  VPR_CHECK_USAGE(default_k >= 1 && default_k <= max_k, "--k must be in 1-", max_k, " (--max-k), got ", default_k);
  VPR_CHECK_USAGE(snapshot_every >= 1, "--snapshot-every must be at least 1, got ", snapshot_every);
  verifier.Check();
  VPR_CHECK_USAGE(rerank_margin >= 0 && rerank_margin <= 4, "--rerank-margin must be in 0-4 (squared L2 of unit "
                  "descriptors; 4 = every candidate), got ", rerank_margin);
  VPR_CHECK_USAGE(loopback() || !api_key_file.empty(), "--host ", host,
                  " is reachable from other machines: give --api-key-file FILE so that only clients with the key "
                  "can add or remove places (or bind 127.0.0.1)");
}

}  // namespace vpr
