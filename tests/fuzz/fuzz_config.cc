// Fuzz target: the YAML configuration loader. Any bytes must give Ok or a one-line Invalid
// status; never a crash, an escaped exception or a multi-line message. A configuration that
// loads must survive a round trip through OptionsToYaml unchanged.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "config/load.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  taskq::Options options;
  const taskq::Status status = taskq::LoadOptionsFromString(text, "fuzz.yaml", &options);
  if (!status.ok()) {
    if (status.message().find('\n') != std::string::npos) {
      std::fprintf(stderr, "multi-line error: %s\n", status.message().c_str());
      std::abort();
    }
    return 0;
  }
  const std::string dumped = taskq::OptionsToYaml(options);
  taskq::Options reloaded;
  if (!taskq::LoadOptionsFromString(dumped, "round-trip", &reloaded).ok()) std::abort();
  if (taskq::OptionsToYaml(reloaded) != dumped) std::abort();
  return 0;
}
