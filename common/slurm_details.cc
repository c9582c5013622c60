#include "common/slurm_details.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/json_text.h"
#include "fmt/format.h"

namespace taskq {

std::string SlurmDetailsPath(const std::string& state_dir, uint64_t task_id) {
  return fmt::format("{}/slurm/jobs/{}.json", state_dir, task_id);
}

Status WriteSlurmDetails(const std::string& state_dir, uint64_t task_id,
                         const SlurmDetails& details) {
  const std::string dir = state_dir + "/slurm/jobs";
  ::mkdir((state_dir + "/slurm").c_str(), 0700);
  ::mkdir(dir.c_str(), 0700);
  nlohmann::json j;
  j["job_id"] = details.job_id;
  j["state"] = details.state;
  j["reason"] = details.reason;
  j["node"] = details.node;
  const std::string text = JsonText(j) + "\n";
  const std::string path = SlurmDetailsPath(state_dir, task_id);
  const std::string temp = path + ".new";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Status::Failed(fmt::format("cannot write {}: {}", temp, strerror(errno)));
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!written || ::rename(temp.c_str(), path.c_str()) != 0) {
    ::unlink(temp.c_str());
    return Status::Failed(fmt::format("cannot write {}: {}", path, strerror(errno)));
  }
  return Status::Ok();
}

bool ReadSlurmDetails(const std::string& state_dir, uint64_t task_id, SlurmDetails* details) {
  std::ifstream in(SlurmDetailsPath(state_dir, task_id));
  if (!in) return false;
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, false);
  if (!j.is_object() || !j.contains("job_id") || !j["job_id"].is_number_unsigned()) return false;
  details->job_id = j["job_id"].get<uint32_t>();
  auto text_of = [&](const char* key) {
    return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
  };
  details->state = text_of("state");
  details->reason = text_of("reason");
  details->node = text_of("node");
  return true;
}

Status AppendPilotNode(const std::string& state_dir, uint32_t job_id, uint32_t pilot,
                       const std::string& node) {
  ::mkdir((state_dir + "/slurm").c_str(), 0700);
  const std::string path = state_dir + "/slurm/pilot-nodes";
  const nlohmann::json j = {{"job_id", job_id}, {"pilot", pilot}, {"node", node}};
  const std::string line = JsonText(j) + "\n";  // the node is a pilot's word
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Status::Failed(fmt::format("cannot write {}: {}", path, strerror(errno)));
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!written) return Status::Failed(fmt::format("cannot write {}: {}", path, strerror(errno)));
  return Status::Ok();
}

bool SlurmDetailsFinder::Find(const std::string& state_dir, uint64_t task_id, uint32_t job_id,
                              SlurmDetails* details) {
  if (ReadSlurmDetails(state_dir, task_id, details)) return true;
  if (job_id == 0) return false;
  if (pilots_of_.empty() || pilots_of_ != state_dir) {
    pilots_of_ = state_dir;
    pilots_.clear();
    std::ifstream in(state_dir + "/slurm/pilot-nodes");
    for (std::string line; std::getline(in, line);) {
      const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      // Read field by field: a damaged line (the file is the daemon's, but may be cut short) is
      // skipped, never thrown on.
      auto number = [&](const char* key) {
        return j.is_object() && j.contains(key) && j[key].is_number_unsigned()
                   ? j[key].get<uint64_t>()
                   : uint64_t{0};
      };
      const uint64_t job = number("job_id");
      if (job == 0 || job > UINT32_MAX) continue;
      const bool has_node = j.contains("node") && j["node"].is_string();
      pilots_[static_cast<uint32_t>(job)] = SlurmDetails{
          static_cast<uint32_t>(job), "LEASED", fmt::format("pilot {}", number("pilot")),
          has_node ? j["node"].get<std::string>() : ""};
    }
  }
  const auto it = pilots_.find(job_id);
  if (it == pilots_.end()) return false;
  *details = it->second;
  return true;
}

bool FindSlurmDetails(const std::string& state_dir, uint64_t task_id, uint32_t job_id,
                      SlurmDetails* details) {
  return SlurmDetailsFinder().Find(state_dir, task_id, job_id, details);
}

std::string DescribeSlurmDetails(const SlurmDetails& details) {
  std::string line = fmt::format("job {} {}", details.job_id, details.state);
  if (!details.node.empty()) line += " on " + details.node;
  if (!details.reason.empty() && details.reason != "None") line += " (" + details.reason + ")";
  return line;
}

}  // namespace taskq
