// The framing of our one-file formats (.vprdb, .vprloop): an 8-byte magic, a u32 format
// version, a u64 header length, a JSON header, then the format's own bytes.
#pragma once

#include <cstdint>
#include <string>

namespace vpr {

// magic (8 bytes), version, header length and header, to be followed by the body.
std::string VersionedPrefix(const char (&magic)[8], uint32_t version, const std::string& header);

// Checks the framing of `bytes` against the real size before anything is read and
// returns the header; *body_offset is where the body starts. `what` names the source
// and `kind` the format ("vpr place database"), `writer` what writes it, in the errors.
std::string ReadVersionedHeader(const std::string& bytes, const char (&magic)[8], uint32_t version,
                                const std::string& what, const std::string& kind, const std::string& writer,
                                size_t* body_offset);

}  // namespace vpr
