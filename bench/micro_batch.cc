// Micro-benchmark of `submit --batch` line parsing (client/submit_args.cc) with Google Benchmark:
// lines a second through BatchLineParser::Parse, for the lines its fast path takes and for a line
// that needs the CLI11 grammar. Built as `batch_bench` with libbenchmark-dev; run by `make bench`.
//
//   Parse/exec        `exec -- /bin/true`                   (fast path)
//   Parse/cpu         `cpu --count 1 --seed 7`              (fast path)
//   Parse/grammar     `cpu --count 1 --priority 9`          (CLI11)
#include <benchmark/benchmark.h>

#include <string>

#include "client/submit_args.h"

namespace {

void Parse(benchmark::State& state, const std::string& line) {
  taskq::BatchLineParser parser;
  taskq::TaskSpec spec;
  bool skip = false;
  for (auto _ : state) {
    const taskq::Status s = parser.Parse(line, "/work", &spec, &skip);
    if (!s.ok()) state.SkipWithError(s.message().c_str());
    benchmark::DoNotOptimize(spec);
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK_CAPTURE(Parse, exec, std::string("exec -- /bin/true"));
BENCHMARK_CAPTURE(Parse, cpu, std::string("cpu --count 1 --seed 7"));
BENCHMARK_CAPTURE(Parse, grammar, std::string("cpu --count 1 --priority 9"));

}  // namespace

BENCHMARK_MAIN();
