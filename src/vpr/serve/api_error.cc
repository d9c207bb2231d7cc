#include "vpr/serve/api_error.h"

#include <nlohmann/json.hpp>

namespace vpr {

std::string ErrorType(int status) {
  switch (status) {
    case 401:
      return "authentication_error";
    case 404:
    case 405:
      return "not_found_error";
    case 429:
      return "rate_limit_error";
    case 503:
      return "unavailable_error";
    default:
      return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

std::string ErrorBody(int status, const std::string& code, const std::string& message) {
  // Replacement of invalid UTF-8 keeps a message quoting client bytes serialisable.
  return nlohmann::json{{"error", {{"code", code}, {"message", message}, {"type", ErrorType(status)}}}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace vpr
