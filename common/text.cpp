// text.h: escaping host-controlled text for terminals and logs.
#include "common/text.h"

#include <cstdint>

namespace tidemark {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void AppendHex(std::string& out, unsigned char b) {
  out.push_back(kHex[b >> 4]);
  out.push_back(kHex[b & 15]);
}

void AppendByteEscape(std::string& out, unsigned char b) {
  out += "\\x";
  AppendHex(out, b);
}

void AppendCodepointEscape(std::string& out, uint32_t cp) {
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out.push_back(kHex[(cp >> shift) & 15]);
}

bool IsUnsafeCodepoint(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
         (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

// Appends the escaped form of the unit at text[i] and returns its length in `text`.
size_t AppendEscapedUnit(std::string& out, std::string_view text, size_t i) {
  auto b = static_cast<unsigned char>(text[i]);
  if (b < 0x20 || b == 0x7f) {
    AppendByteEscape(out, b);
    return 1;
  }
  if (b == '\\') {
    out += "\\\\";
    return 1;
  }
  if (b < 0x80) {
    out.push_back(static_cast<char>(b));
    return 1;
  }
  uint32_t cp = 0;
  size_t len = Utf8SequenceLength(text, i, &cp);
  if (len == 0) {
    AppendByteEscape(out, b);
    return 1;
  }
  if (IsUnsafeCodepoint(cp)) {
    AppendCodepointEscape(out, cp);
  } else {
    out.append(text.substr(i, len));
  }
  return len;
}

}  // namespace

size_t Utf8SequenceLength(std::string_view text, size_t i, uint32_t* cp_out) {
  auto b0 = static_cast<unsigned char>(text[i]);
  size_t len = 0;
  uint32_t cp = 0, min = 0;
  if (b0 < 0x80) {
    len = 1, cp = b0;
  } else if ((b0 & 0xe0) == 0xc0) {
    len = 2, cp = b0 & 0x1f, min = 0x80;
  } else if ((b0 & 0xf0) == 0xe0) {
    len = 3, cp = b0 & 0x0f, min = 0x800;
  } else if ((b0 & 0xf8) == 0xf0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > text.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    auto b = static_cast<unsigned char>(text[i + k]);
    if ((b & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  if (cp_out != nullptr) *cp_out = cp;
  return len;
}

std::string EscapeControl(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) i += AppendEscapedUnit(out, text, i);
  return out;
}

std::string EscapeControlBounded(std::string_view text, size_t max_bytes) {
  std::string out;
  std::string unit;
  for (size_t i = 0; i < text.size();) {
    unit.clear();
    size_t used = AppendEscapedUnit(unit, text, i);
    if (out.size() + unit.size() > max_bytes) {
      out += "…(" + std::to_string(text.size()) + " bytes)";
      return out;
    }
    out += unit;
    i += used;
  }
  return out;
}

size_t Utf8WrittenLength(std::string_view text) {
  size_t written = 0;
  for (size_t i = 0; i < text.size();) {
    size_t len = Utf8SequenceLength(text, i);
    written += len ? len : 3;
    i += len ? len : 1;
  }
  return written;
}

std::string Utf8Bounded(std::string_view text, size_t max_bytes) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  size_t written = Utf8WrittenLength(text);
  if (written == text.size() && written <= max_bytes) return std::string(text);  // valid, fits
  std::string ending;
  size_t limit = max_bytes;
  if (written > max_bytes) {
    ending = "…(" + std::to_string(text.size()) + " bytes)";
    limit = max_bytes > ending.size() ? max_bytes - ending.size() : 0;
  }
  std::string out;
  for (size_t i = 0; i < text.size();) {
    size_t len = Utf8SequenceLength(text, i);
    std::string_view unit = len ? text.substr(i, len) : kReplacement;
    if (out.size() + unit.size() > limit) break;
    out += unit;
    i += len ? len : 1;
  }
  return out + ending;
}

std::string HexEncode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) AppendHex(out, static_cast<unsigned char>(c));
  return out;
}

std::string AsciiUpper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

std::string EscapeMarkup(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

std::string CsvField(const std::string& raw, bool text_cell) {
  std::string text = EscapeControl(raw);
  if (text_cell && !text.empty() && std::string_view("=+-@").find(text[0]) != std::string::npos) {
    text.insert(0, 1, '\'');
  }
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char ch : text) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

}  // namespace tidemark
