// common/text.cc: how user text is quoted back in errors and tables (issue 22).
#include "common/text.h"

#include <gtest/gtest.h>

#include <string>

#include "common/status.h"

namespace taskq {
namespace {

TEST(EscapeControl, WritesEveryControlCharacterAsAnEscape) {
  EXPECT_EQ(EscapeControl("plain text, ü"), "plain text, ü");
  EXPECT_EQ(EscapeControl("a\nb\rc\td"), "a\\nb\\rc\\td");
  EXPECT_EQ(EscapeControl(std::string("\x1b[2J\0\x7f", 6)), "\\x1b[2J\\x00\\x7f");
  for (int c = 0; c < 0x20; ++c) {
    EXPECT_FALSE(HasControl(EscapeControl(std::string(1, static_cast<char>(c))))) << c;
  }
}

TEST(EscapeControl, StatusMessagesAreAlwaysOneLine) {
  const Status s = Status::Invalid("--count: expected a number, got '1\n\x1b[31mforged'");
  EXPECT_FALSE(HasControl(s.message()));
  EXPECT_EQ(s.message(), "--count: expected a number, got '1\\n\\x1b[31mforged'");
}

TEST(ShellQuoteForDisplay, QuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(ShellQuoteForDisplay("/bin/echo"), "/bin/echo");
  EXPECT_EQ(ShellQuoteForDisplay("echo hi"), "'echo hi'");
  EXPECT_EQ(ShellQuoteForDisplay(""), "''");
  EXPECT_EQ(ShellQuoteForDisplay("it's"), "'it'\\''s'");
  EXPECT_EQ(ShellQuoteForDisplay("a\nb'c\\"), "$'a\\nb\\'c\\\\'");
}

}  // namespace
}  // namespace taskq
