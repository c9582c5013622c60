#include "common/text.h"

namespace taskq {
namespace {

bool IsControl(unsigned char c) { return c < 0x20 || c == 0x7f; }

}  // namespace

std::string EscapeControl(std::string_view text) {
  if (!HasControl(text)) return std::string(text);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size() + 8);
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (!IsControl(c)) {
      out += ch;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

bool HasControl(std::string_view text) {
  for (const char ch : text) {
    if (IsControl(static_cast<unsigned char>(ch))) return true;
  }
  return false;
}

}  // namespace taskq

namespace taskq {

std::string ShellQuoteForDisplay(std::string_view word) {
  static constexpr std::string_view kPlain =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+@%^";
  if (!word.empty() && word.find_first_not_of(kPlain) == std::string_view::npos) {
    return std::string(word);
  }
  if (!HasControl(word)) {
    std::string out = "'";
    for (const char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  }
  std::string inner;
  for (const char c : word) {
    if (c == '\\' || c == '\'') inner += '\\';
    inner += c;
  }
  return "$'" + EscapeControl(inner) + "'";
}

}  // namespace taskq
