#include "config/yaml_values.h"

#include <cstdio>

namespace taskq {
namespace {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = kKiB * 1024;
constexpr uint64_t kGiB = kMiB * 1024;
constexpr uint64_t kSecondMs = 1000;
constexpr uint64_t kMinuteMs = 60 * kSecondMs;
constexpr uint64_t kHourMs = 60 * kMinuteMs;
constexpr uint64_t kDayMs = 24 * kHourMs;

struct Unit {
  std::string_view name;
  uint64_t scale;
};

constexpr Unit kDurationUnits[] = {
    {"d", kDayMs}, {"h", kHourMs}, {"m", kMinuteMs}, {"s", kSecondMs}, {"ms", 1}};
constexpr Unit kSizeUnits[] = {{"GiB", kGiB}, {"G", kGiB},  {"GB", kGiB},  {"MiB", kMiB},
                               {"M", kMiB},   {"MB", kMiB}, {"KiB", kKiB}, {"K", kKiB},
                               {"KB", kKiB},  {"B", 1}};

constexpr size_t kMaxShownChars = 60;

bool IsDigits(std::string_view text) {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
}

// Decimal digits; false when empty, not digits, or past 2^64 - 1.
bool ParseDigits(std::string_view text, uint64_t* out) {
  if (!IsDigits(text)) return false;
  uint64_t value = 0;
  for (char c : text) {
    if (__builtin_mul_overflow(value, 10, &value) ||
        __builtin_add_overflow(value, static_cast<uint64_t>(c - '0'), &value)) {
      return false;
    }
  }
  *out = value;
  return true;
}

// "<digits>[.<digits>][unit]" times the unit's scale (`bare_scale` without a unit), computed
// exactly: false unless the result is a whole number that fits in 64 bits.
template <size_t N>
bool ParseScaled(std::string_view text, const Unit (&units)[N], uint64_t bare_scale,
                 uint64_t* out) {
  const size_t number_end = std::min(text.find_first_not_of("0123456789."), text.size());
  const std::string_view number = text.substr(0, number_end);
  const std::string_view unit = text.substr(number_end);
  uint64_t scale = bare_scale;
  if (!unit.empty()) {
    const Unit* found =
        std::find_if(units, units + N, [&](const Unit& u) { return u.name == unit; });
    if (found == units + N) return false;
    scale = found->scale;
  }
  const size_t dot = number.find('.');
  uint64_t whole = 0;
  if (!ParseDigits(number.substr(0, dot), &whole)) return false;
  std::string_view fraction = dot == std::string_view::npos ? "" : number.substr(dot + 1);
  if (dot != std::string_view::npos && !IsDigits(fraction)) return false;
  while (!fraction.empty() && fraction.back() == '0') fraction.remove_suffix(1);
  // Nine digits are finer than any unit needs; the bound also keeps fraction * scale in range.
  if (fraction.size() > 9) return false;
  uint64_t numerator = 0;
  uint64_t denominator = 1;
  for (char c : fraction) {
    numerator = numerator * 10 + static_cast<uint64_t>(c - '0');
    denominator *= 10;
  }
  numerator *= scale;
  if (numerator % denominator != 0) return false;
  uint64_t result = 0;
  if (__builtin_mul_overflow(whole, scale, &result) ||
      __builtin_add_overflow(result, numerator / denominator, &result)) {
    return false;
  }
  *out = result;
  return true;
}

template <size_t N>
std::string FormatScaled(uint64_t value, const Unit (&units)[N], std::string_view zero) {
  if (value == 0) return std::string(zero);
  // Units run from the largest down, the smallest being 1, so some unit always divides exactly.
  const Unit* unit = units;
  while (value % unit->scale != 0) ++unit;
  return std::to_string(value / unit->scale) + std::string(unit->name);
}

std::string Shown(const YAML::Node& node) {
  if (node.IsMap()) return "a map";
  if (node.IsSequence()) return "a list";
  if (!node.IsScalar()) return "nothing";
  return ShownText(node.Scalar());
}

// The error for a value that is not a scalar: an empty value gets its own advice.
Status NotScalarError(const ConfigValue& value, std::string_view problem, std::string_view fix) {
  if (value.node.IsNull()) {
    return ValueError(value, problem, "give a value, or delete the line to keep the default");
  }
  return ValueError(value, problem, fix);
}

std::string Range(uint64_t min, uint64_t max) {
  return std::to_string(min) + ".." + std::to_string(max);
}

}  // namespace

ConfigValue ConfigValue::Document(const YAML::Node& document, std::string_view source) {
  return ConfigValue{document, source, "", document.Mark()};
}

ConfigValue ConfigValue::Child(const YAML::Node& key, const YAML::Node& value) const {
  // An empty value's mark is wherever the next token starts, often the next line.
  const YAML::Mark at = value.IsNull() ? key.Mark() : value.Mark();
  return ConfigValue{value, source, path.empty() ? key.Scalar() : path + "." + key.Scalar(), at};
}

ConfigValue ConfigValue::Item(const YAML::Node& item, size_t index) const {
  const YAML::Mark at = item.IsNull() ? mark : item.Mark();
  return ConfigValue{item, source, path + "[" + std::to_string(index) + "]", at};
}

Status ErrorAt(std::string_view source, const YAML::Mark& mark, std::string_view message) {
  // Appended piece by piece: GCC 12 -O3 warns (-Wrestrict, a false positive) on chained `+`.
  std::string text(source);
  if (!mark.is_null()) {
    text.append(":").append(std::to_string(mark.line + 1));
    text.append(":").append(std::to_string(mark.column + 1));
  }
  // Messages quote user bytes (yaml-cpp echoes bad escapes verbatim): keep them one line.
  std::string line(message);
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < ' ' || c == 0x7f) c = '?';
  }
  return Status::Invalid(text + ": " + line);
}

Status ValueError(const ConfigValue& value, std::string_view problem, std::string_view fix) {
  return ErrorAt(value.source, value.mark,
                 ShownPath(value) + ": " + std::string(problem) + ", got " + Shown(value.node) +
                     "; " + std::string(fix));
}

std::string ShownPath(const ConfigValue& value) {
  return value.path.empty() ? "top level" : value.path;
}

std::string ShownText(std::string_view text) {
  auto is_control = [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; };
  const bool bare = !text.empty() && text.size() <= kMaxShownChars &&
                    text.find_first_of(" \",;") == std::string::npos &&
                    std::none_of(text.begin(), text.end(), is_control);
  if (bare) return std::string(text);
  std::string shown = "\"";
  for (size_t i = 0; i < text.size() && i < kMaxShownChars; ++i) {
    const char c = text[i];
    if (c == '"' || c == '\\') {
      shown += '\\';
      shown += c;
    } else if (is_control(c)) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", static_cast<unsigned char>(c));
      shown += escaped;
    } else {
      shown += c;
    }
  }
  if (text.size() > kMaxShownChars) shown += "...";
  return shown + "\"";
}

Status ReadString(const ConfigValue& value, const TextRule& rule, std::string* out) {
  if (!value.node.IsScalar()) return NotScalarError(value, rule.problem, rule.fix);
  const std::string& text = value.node.Scalar();
  if (text.find('\0') != std::string::npos) {
    return ValueError(value, "must not contain a NUL character", "remove the \\0 escape");
  }
  if (!rule.check(text)) return ValueError(value, rule.problem, rule.fix);
  *out = text;
  return Status::Ok();
}

Status ReadStringList(const ConfigValue& value, const TextRule& rule,
                      std::vector<std::string>* out) {
  if (value.node.IsNull()) {
    out->clear();
    return Status::Ok();
  }
  if (!value.node.IsSequence()) {
    return ValueError(value, "must be a list of strings", "write [] or one \"- item\" line each");
  }
  std::vector<std::string> items;
  for (const YAML::Node& item : value.node) {
    items.emplace_back();
    TASKQ_RETURN_IF_ERROR(ReadString(value.Item(item, items.size() - 1), rule, &items.back()));
  }
  *out = std::move(items);
  return Status::Ok();
}

Status ReadBool(const ConfigValue& value, bool* out) {
  constexpr std::string_view kProblem = "must be true or false";
  constexpr std::string_view kFix = "write true or false in lower case";
  if (!value.node.IsScalar()) return NotScalarError(value, kProblem, kFix);
  const std::string& text = value.node.Scalar();
  if (text != "true" && text != "false") return ValueError(value, kProblem, kFix);
  *out = text == "true";
  return Status::Ok();
}

Status ReadChoice(const ConfigValue& value, std::initializer_list<const char*> choices,
                  std::string* out) {
  std::string problem = "must be one of";
  const char* separator = " ";
  for (const char* choice : choices) {
    problem += separator + std::string(choice);
    separator = ", ";
  }
  constexpr std::string_view kFix = "write one of these names, in lower case";
  if (!value.node.IsScalar()) return NotScalarError(value, problem, kFix);
  const std::string& text = value.node.Scalar();
  for (const char* choice : choices) {
    if (text == choice) {
      *out = text;
      return Status::Ok();
    }
  }
  return ValueError(value, problem, kFix);
}

Status ReadUint64(const ConfigValue& value, uint64_t min, uint64_t max, std::string_view note,
                  uint64_t* out) {
  std::string problem = "must be an integer " + Range(min, max);
  if (!note.empty()) problem += " (" + std::string(note) + ")";
  constexpr std::string_view kFix = "write a whole number, without quotes, units or decimals";
  if (!value.node.IsScalar()) return NotScalarError(value, problem, kFix);
  const std::string& text = value.node.Scalar();
  uint64_t number = 0;
  const bool parsed = ParseDigits(text, &number);
  if (!parsed && !IsDigits(text)) return ValueError(value, problem, kFix);
  if (!parsed || number < min || number > max) {
    return ValueError(value, problem, "use a value in " + Range(min, max));
  }
  *out = number;
  return Status::Ok();
}

Status ReadDurationMs(const ConfigValue& value, uint64_t max_ms, uint64_t* out_ms) {
  const std::string problem = "must be a duration 0.." + FormatDurationMs(max_ms) +
                              " such as 500ms, 10s, 1.5h or a number of seconds";
  constexpr std::string_view kFix =
      "write a non-negative number of seconds, or a number with unit ms, s, m, h or d";
  if (!value.node.IsScalar()) return NotScalarError(value, problem, kFix);
  uint64_t ms = 0;
  if (!ParseDurationMs(value.node.Scalar(), &ms)) return ValueError(value, problem, kFix);
  if (ms > max_ms) return ValueError(value, problem, "use at most " + FormatDurationMs(max_ms));
  *out_ms = ms;
  return Status::Ok();
}

Status ReadSizeBytes(const ConfigValue& value, uint64_t min, uint64_t max, uint64_t* out) {
  const std::string range = FormatSizeBytes(min) + ".." + FormatSizeBytes(max);
  const std::string problem = "must be a size " + range + " such as 4096, 64KiB or 1GiB";
  constexpr std::string_view kFix =
      "write a whole number of bytes, or a number with unit B, KiB, MiB or GiB";
  if (!value.node.IsScalar()) return NotScalarError(value, problem, kFix);
  uint64_t bytes = 0;
  if (!ParseSizeBytes(value.node.Scalar(), &bytes)) return ValueError(value, problem, kFix);
  if (bytes < min || bytes > max) return ValueError(value, problem, "use a size in " + range);
  *out = bytes;
  return Status::Ok();
}

Status ReadFileMode(const ConfigValue& value, std::initializer_list<uint32_t> allowed,
                    uint32_t* out) {
  std::string problem = "must be one of the modes";
  const char* separator = " ";
  for (uint32_t mode : allowed) {
    problem += separator + FormatFileMode(mode);
    separator = ", ";
  }
  const std::string fix =
      "write it as a quoted octal string such as \"" + FormatFileMode(*allowed.begin()) + "\"";
  if (!value.node.IsScalar()) return NotScalarError(value, problem, fix);
  const std::string& text = value.node.Scalar();
  if (text.empty() || text.size() > 6 || text.find_first_not_of("01234567") != std::string::npos) {
    return ValueError(value, problem, fix);
  }
  uint32_t mode = 0;
  for (char digit : text) mode = mode * 8 + static_cast<uint32_t>(digit - '0');
  if (std::find(allowed.begin(), allowed.end(), mode) == allowed.end()) {
    return ValueError(value, problem, fix);
  }
  *out = mode;
  return Status::Ok();
}

bool ParseDurationMs(std::string_view text, uint64_t* ms) {
  return ParseScaled(text, kDurationUnits, kSecondMs, ms);
}

std::string FormatDurationMs(uint64_t ms) { return FormatScaled(ms, kDurationUnits, "0s"); }

bool ParseSizeBytes(std::string_view text, uint64_t* bytes) {
  return ParseScaled(text, kSizeUnits, 1, bytes);
}

std::string FormatSizeBytes(uint64_t bytes) { return FormatScaled(bytes, kSizeUnits, "0B"); }

std::string FormatFileMode(uint32_t mode) {
  char text[16];
  std::snprintf(text, sizeof(text), "%04o", mode);
  return text;
}

}  // namespace taskq
