// `submit --batch` lines: the fast path for the common lines (`exec -- CMD...`, `cpu [--count N]
// [--seed N]`) gives exactly what the CLI11 grammar gives, the same spec or the same error, for
// the lines it takes and for the ones it must leave to the grammar.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "client/submit_args.h"
#include "common/control_protocol.h"

namespace taskq {
namespace {

struct Parsed {
  bool ok = false;
  std::string text;  // the spec as JSON, or the error message
};

Parsed ByParse(BatchLineParser& parser, const std::string& line) {
  TaskSpec spec;
  bool skip = false;
  const Status s = parser.Parse(line, "/work", &spec, &skip);
  EXPECT_FALSE(skip) << line;
  return {s.ok(), s.ok() ? SpecToJsonText(spec) : s.message()};
}

Parsed ByGrammar(BatchLineParser& parser, const std::string& line) {
  std::vector<std::string> words;
  EXPECT_TRUE(SplitWords(line, &words).ok()) << line;
  TaskSpec spec;
  const Status s = parser.ParseWithGrammar(words, "/work", &spec);
  return {s.ok(), s.ok() ? SpecToJsonText(spec) : s.message()};
}

TEST(BatchLine, FastPathAgreesWithTheGrammar) {
  const std::vector<std::string> lines = {
      "exec -- true",
      "exec -- /bin/echo a 'b c' \"d\\\"e\"",
      "exec -- sh -c 'exit 3'",
      "exec --",
      "exec -- --",
      "exec --cwd /tmp -- ls",
      "exec --env A=1 -- env",
      "cpu",
      "cpu --count 1",
      "cpu --count 0",
      "cpu --count 5 --seed 7",
      "cpu --seed 7 --count 5",
      "cpu --count 4611686018427387904",  // 2^62, the largest allowed
      "cpu --count 4611686018427387905",  // one more: refused
      "cpu --count 99999999999999999999",
      "cpu --seed 18446744073709551615",
      "cpu --count 010",
      "cpu --count 0x10",
      "cpu --count -1",
      "cpu --count +1",
      "cpu --count 1.5",
      "cpu --count",
      "cpu --count 1 --count 2",
      "cpu --count=3",
      "cpu --count 3 --priority 9",
      "cpu --count 3 -- x",
      "cpu --bogus 3",
      "io --bytes 5",
  };
  BatchLineParser parser;
  for (const std::string& line : lines) {
    const Parsed fast = ByParse(parser, line);
    const Parsed grammar = ByGrammar(parser, line);
    EXPECT_EQ(fast.ok, grammar.ok) << line << "\n" << fast.text << "\n" << grammar.text;
    EXPECT_EQ(fast.text, grammar.text) << line;
  }
}

// The same parser, line after line: nothing of one line leaks into the next on either path.
TEST(BatchLine, NothingCarriesOverFromTheLineBefore) {
  BatchLineParser parser;
  EXPECT_TRUE(ByParse(parser, "cpu --count 5 --seed 7 --priority 9 --group g").ok);
  const Parsed after = ByParse(parser, "cpu --count 1");
  BatchLineParser fresh;
  EXPECT_EQ(after.text, ByGrammar(fresh, "cpu --count 1").text);
  EXPECT_TRUE(ByParse(parser, "exec --env A=1 --cwd /tmp -- env").ok);
  EXPECT_EQ(ByParse(parser, "exec -- true").text, ByGrammar(fresh, "exec -- true").text);
}

}  // namespace
}  // namespace taskq
