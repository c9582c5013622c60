#include "daemon/helper_output.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

namespace taskq {

std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string TakeHelperOutput(const std::string& path) {
  std::string text = ReadSmallFile(path);
  ::unlink(path.c_str());
  return text;
}

std::string FirstLineOf(std::string_view text, size_t max_chars) {
  std::string line(text.substr(0, text.find('\n')));
  if (line.size() <= max_chars) return line;
  line.resize(max_chars);
  return line + "...";
}

}  // namespace taskq
