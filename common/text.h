// Text that came from a user (an argument, a batch line, a YAML value, a task's argv) is quoted
// back in errors, logs and tables. Control characters in it could split an error into several
// lines or drive the reader's terminal (ESC sequences), so they are escaped wherever such text is
// shown.
#pragma once

#include <string>
#include <string_view>

namespace taskq {

// `text` with every control character (bytes 0x00-0x1f and 0x7f) written as a C escape: \n, \r,
// \t, else \xHH. Other bytes, UTF-8 included, are kept. The result is one line.
std::string EscapeControl(std::string_view text);

// True when `text` has a byte that EscapeControl would escape.
bool HasControl(std::string_view text);

}  // namespace taskq

namespace taskq {

// One argument as a reader would type it into a shell: as is when it needs no quoting, else in
// single quotes, or in $'...' with escapes when it holds control characters. For display only.
std::string ShellQuoteForDisplay(std::string_view word);

}  // namespace taskq
