// Every error the service returns has one shape, {"error":{"code","message","type"}},
// with the HTTP status that says whose fault it is.
#pragma once

#include <stdexcept>
#include <string>

namespace vpr {

// Thrown by handlers; the route wrapper turns it into the response.
struct ApiError : std::runtime_error {
  ApiError(int status, std::string code, const std::string& message)
      : std::runtime_error(message), status(status), code(std::move(code)) {}
  int status;
  std::string code;  // machine-readable: "bad_image", "queue_full", ...
};

// "invalid_request_error" (400, 413, 415), "authentication_error" (401),
// "not_found_error" (404, 405), "rate_limit_error" (429), "unavailable_error" (503),
// "server_error" (500 and any other 5xx).
std::string ErrorType(int status);
// The JSON body for an error.
std::string ErrorBody(int status, const std::string& code, const std::string& message);

}  // namespace vpr
