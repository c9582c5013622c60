// taskq metrics: the queue's metrics in the Prometheus text format (common/metrics.h), read from
// the segment without the daemon's help. With --output the text replaces FILE atomically (a
// temporary file beside it, then rename), as node_exporter's textfile collector wants.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "client/cli.h"
#include "common/metrics.h"
#include "common/segment.h"
#include "fmt/format.h"

namespace taskq::cli {

int RunMetrics(const GlobalArgs& global, const std::string& output) {
  int code = 0;
  std::unique_ptr<Client> client = ConnectOrReport(global, &code);
  if (!client) return code;
  const std::string text = RenderMetrics(client->segment(), client->options().queue);
  if (output.empty() || output == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : Report(Status::Failed("cannot write standard output"));
  }
  const std::string partial = output + ".tmp";
  std::ofstream file(partial, std::ios::trunc);
  file << text;
  file.close();
  if (!file) {
    std::filesystem::remove(partial);
    return Report(Status::Invalid(
        fmt::format("--output: cannot write {}: {}; name a file in a writable directory", partial,
                    std::strerror(errno))));
  }
  std::error_code error;
  std::filesystem::rename(partial, output, error);
  if (error) {
    std::filesystem::remove(partial);
    return Report(Status::Invalid(
        fmt::format("--output: cannot rename {} to {}: {}", partial, output, error.message())));
  }
  return 0;
}

}  // namespace taskq::cli
