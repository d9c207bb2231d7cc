// The readable part of a faiss::FaissException, for vpr::Error messages.
#pragma once

#include <faiss/impl/FaissException.h>

#include <string>

namespace vpr {

// faiss' message without its source location and without the NUL that FAISS_THROW_FMT
// leaves inside the string (which would cut our message short when printed).
inline std::string FaissReason(const faiss::FaissException& e) {
  std::string msg = e.msg.substr(0, e.msg.find('\0'));
  size_t at = msg.rfind("Error: ");
  return at == std::string::npos ? msg : msg.substr(at + 7);
}

}  // namespace vpr
