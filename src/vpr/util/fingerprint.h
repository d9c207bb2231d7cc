// Content fingerprints for caches and reports: 128-bit FNV-1a (two 64-bit lanes with
// different offsets). Not cryptographic; stable across platforms and runs, so a
// fingerprint written today still names the same content tomorrow.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vpr {

class Fingerprint {
 public:
  Fingerprint& Add(const void* data, size_t size);
  Fingerprint& Add(const std::string& text);  // length-prefixed, so "ab","c" != "a","bc"
  Fingerprint& Add(int64_t value);
  Fingerprint& Add(double value);
  // 32 lowercase hex digits.
  std::string Hex() const;

 private:
  uint64_t a_ = 14695981039346656037ull;
  uint64_t b_ = 0x84222325cbf29ce4ull;
};

// Fingerprint of a file list by path, size and modification time (not content:
// cheap for thousands of images, and any edit changes size or mtime). Missing files
// contribute a marker, so they change the fingerprint when they appear.
std::string FingerprintFiles(const std::vector<std::string>& paths);

// Fingerprint of a file's bytes (read in fixed 1 MiB chunks, so the same bytes give the
// same value however they were written). Throws vpr::Error when it cannot be read.
std::string FingerprintFileContent(const std::string& path);

}  // namespace vpr
