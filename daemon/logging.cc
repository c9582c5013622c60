#include "daemon/logging.h"

#include <cstdlib>
#include <memory>

#include "fmt/format.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace taskq {
namespace {

// "%*" in the pattern: the sd-daemon(3) priority prefix for the message's level.
class PriorityFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    static constexpr const char* kPrefix[] = {"<7>", "<7>", "<6>", "<4>", "<3>", "<2>", "<6>"};
    const char* prefix = kPrefix[static_cast<int>(msg.level)];
    dest.append(prefix, prefix + 3);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<PriorityFlag>();
  }
};

}  // namespace

Status SetUpLogging(const std::string& level, const std::string& name) {
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    return Status::Invalid(fmt::format(
        "log level '{}': must be trace, debug, info, warn, error or off", level));
  }
  auto logger = std::make_shared<spdlog::logger>(
      name, std::make_shared<spdlog::sinks::stderr_sink_mt>());
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<PriorityFlag>('*');
  const char* journal = std::getenv("JOURNAL_STREAM");
  formatter->set_pattern(journal != nullptr && *journal != '\0'
                             ? "%*%v"
                             : "%Y-%m-%d %H:%M:%S.%e " + name + "[%P] %l: %v");
  logger->set_formatter(std::move(formatter));
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  return Status::Ok();
}

}  // namespace taskq
