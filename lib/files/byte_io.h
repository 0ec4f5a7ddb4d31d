#ifndef FERSERVE_LIB_FILES_BYTE_IO_H_
#define FERSERVE_LIB_FILES_BYTE_IO_H_

// Little-endian field writing and bounds-checked reading for ferserve's binary
// formats (stored profile records, translator blobs, model bundles, feature
// caches).

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace fer {

// The formats are little-endian: on such hosts float arrays are copied as is.
inline constexpr bool kLittleEndian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

class ByteWriter {
 public:
  explicit ByteWriter(std::string* out) : out_(out) {}

  void U8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void U16(uint16_t v) { Raw(v); }
  void U32(uint32_t v) { Raw(v); }
  void U64(uint64_t v) { Raw(v); }
  void I64(int64_t v) { Raw(static_cast<uint64_t>(v)); }
  void F64(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof(bits));
    Raw(bits);
  }
  void Floats(const std::vector<float>& values) {
    if constexpr (kLittleEndian) {
      out_->append(reinterpret_cast<const char*>(values.data()), 4 * values.size());
      return;
    }
    for (float f : values) {
      uint32_t bits;
      std::memcpy(&bits, &f, sizeof(bits));
      U32(bits);
    }
  }
  // u32 length, then the bytes.
  void String(absl::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_->append(s.data(), s.size());
  }

 private:
  template <typename T>
  void Raw(T v) {
    for (size_t i = 0; i < sizeof(T); ++i) {
      out_->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
    }
  }

  std::string* out_;
};

// Reads fields in order; after a read past the end every read fails and
// ok() stays false, so a caller can check once after a group of reads.
class ByteReader {
 public:
  explicit ByteReader(absl::string_view in, size_t offset = 0) : in_(in), offset_(offset) {}

  bool ok() const { return ok_; }
  // Every byte read, none past the end.
  bool done() const { return ok_ && offset_ == in_.size(); }
  size_t offset() const { return offset_; }
  size_t remaining() const { return ok_ ? in_.size() - offset_ : 0; }

  uint8_t U8() { return Raw<uint8_t>(); }
  uint16_t U16() { return Raw<uint16_t>(); }
  uint32_t U32() { return Raw<uint32_t>(); }
  uint64_t U64() { return Raw<uint64_t>(); }
  int64_t I64() { return static_cast<int64_t>(Raw<uint64_t>()); }
  double F64() {
    const uint64_t bits = Raw<uint64_t>();
    double v;
    std::memcpy(&v, &bits, sizeof(v));
    return v;
  }
  std::vector<float> Floats(size_t count) {
    if (count > remaining() / 4) {
      ok_ = false;
      return {};
    }
    std::vector<float> values(count);
    if constexpr (kLittleEndian) {
      std::memcpy(values.data(), in_.data() + offset_, 4 * count);
      offset_ += 4 * count;
    } else {
      for (float& f : values) {
        const uint32_t bits = U32();
        std::memcpy(&f, &bits, sizeof(f));
      }
    }
    return values;
  }
  std::string String() {
    const uint32_t size = U32();
    if (!Need(size)) return {};
    std::string s(in_.substr(offset_, size));
    offset_ += size;
    return s;
  }

 private:
  bool Need(size_t n) {
    if (!ok_ || n > in_.size() - offset_) ok_ = false;
    return ok_;
  }
  template <typename T>
  T Raw() {
    if (!Need(sizeof(T))) return 0;
    T v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) {
      v |= static_cast<T>(static_cast<T>(static_cast<unsigned char>(in_[offset_ + i])) << (8 * i));
    }
    offset_ += sizeof(T);
    return v;
  }

  absl::string_view in_;
  size_t offset_;
  bool ok_ = true;
};

}  // namespace fer

#endif  // FERSERVE_LIB_FILES_BYTE_IO_H_
