// `vpr serve`: the HTTP localisation service. The port is bound first and answers 503
// while the model and database load; HTTP threads read and decode requests, one model
// worker describes them (batched), the database answers, writes are journalled.
#pragma once

#include <memory>

#include "vpr/serve/serve_options.h"

namespace vpr {

class LocalizationServer {
 public:
  explicit LocalizationServer(const ServeOptions& options);  // Check()s the options
  ~LocalizationServer();                                       // Stop()s
  LocalizationServer(const LocalizationServer&) = delete;
  LocalizationServer& operator=(const LocalizationServer&) = delete;

  // Binds host:port and starts answering (503 until Load returns); returns the port.
  int Start();
  // Loads the model and the database (building it from --images if asked). Blocking.
  void Load();
  // Graceful shutdown: stops accepting, lets requests in flight finish, writes the database.
  void Stop();
  bool ready() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vpr
