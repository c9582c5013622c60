#include "common/options.h"

#include <arpa/inet.h>
#include <grp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/segment_format.h"
#include "fmt/format.h"

namespace taskq {

const char* PolicyName(Policy policy) {
  switch (policy) {
    case Policy::kPool:
      return "pool";
    case Policy::kProcess:
      return "process";
    case Policy::kSlurm:
      return "slurm";
  }
  return "unknown";
}

const char* StorageName(Storage storage) {
  switch (storage) {
    case Storage::kShm:
      return "shm";
    case Storage::kFile:
      return "file";
  }
  return "unknown";
}

const char* DurabilityName(Durability durability) {
  switch (durability) {
    case Durability::kMemory:
      return "memory";
    case Durability::kFlush:
      return "flush";
    case Durability::kSync:
      return "sync";
  }
  return "unknown";
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

bool IsValidGroupName(const std::string& name) {
  return !name.empty() && name.size() < kGroupNameBytes && name.front() != '.' &&
         name.front() != '-' && std::all_of(name.begin(), name.end(), IsNameChar);
}

bool ParsePolicy(const std::string& text, Policy* policy) {
  for (Policy candidate : {Policy::kPool, Policy::kProcess, Policy::kSlurm}) {
    if (text == PolicyName(candidate)) {
      *policy = candidate;
      return true;
    }
  }
  return false;
}

bool ParseListenAddress(std::string_view text, std::string* address, uint16_t* port) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string host(text.substr(0, colon));
  const std::string_view digits = text.substr(colon + 1);
  if (digits.empty() || digits.size() > 5 ||
      digits.find_first_not_of("0123456789") != std::string_view::npos) {
    return false;
  }
  const unsigned long number = std::stoul(std::string(digits));
  if (number == 0 || number > 65535) return false;
  unsigned char binary[16];
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    if (inet_pton(AF_INET6, host.c_str(), binary) != 1) return false;
  } else if (inet_pton(AF_INET, host.c_str(), binary) != 1) {
    return false;
  }
  *address = host;
  *port = static_cast<uint16_t>(number);
  return true;
}

bool ParsePilotListen(std::string_view text, std::string* address, uint16_t* port) {
  if (!text.ends_with(":0")) return ParseListenAddress(text, address, port);
  std::string any(text);
  any.back() = '1';
  if (!ParseListenAddress(any, address, port)) return false;
  *port = 0;
  return true;
}

Status LookUpGroup(const std::string& group, gid_t* gid) {
  *gid = static_cast<gid_t>(-1);
  if (group.empty()) return Status::Ok();
  std::vector<char> buffer(16384);
  struct group entry {};
  struct group* found = nullptr;
  getgrnam_r(group.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (found == nullptr) {
    return Status::Invalid(fmt::format(
        "group: '{}' does not exist; create it (groupadd {}) or fix the `group` setting", group,
        group));
  }
  *gid = found->gr_gid;
  return Status::Ok();
}

uint32_t OnlineCpus() {
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<uint32_t>(n) : 1;
}

uint32_t ResolveWorkers(uint32_t configured) { return configured != 0 ? configured : OnlineCpus(); }

Options ResolveDefaults(Options options) {
  const std::string uid = std::to_string(geteuid());
  if (options.queue.empty()) options.queue = "taskq-" + uid;
  if (options.state_dir.empty()) {
    const char* runtime_dir = std::getenv("XDG_RUNTIME_DIR");
    if (runtime_dir != nullptr && runtime_dir[0] != '\0') {
      options.state_dir = std::string(runtime_dir) + "/taskq/" + options.queue;
    } else {
      options.state_dir = "/tmp/taskq-" + uid + "/" + options.queue;
    }
  }
  options.workers = ResolveWorkers(options.workers);
  if (options.io_root.empty()) options.io_root = options.state_dir + "/io";
  // Group members must be able to read the segment, or `group` would have no effect. They never
  // write it: they submit through the daemon's control socket.
  if (!options.group.empty() && options.mode == 0600) options.mode = 0640;
  return options;
}

}  // namespace taskq
