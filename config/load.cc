#include "config/load.h"

#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

#include "common/segment_format.h"
#include "config/yaml_values.h"

namespace taskq {
namespace {

constexpr size_t kMaxQueueNameChars = 64;
constexpr uint64_t kUint32Max = 0xffffffff;
constexpr uint64_t kInt32Max = 0x7fffffff;
constexpr uint64_t kHourMs = 3600 * 1000;
constexpr uint64_t kDayMs = 24 * kHourMs;
constexpr uint64_t kMaxDurationMs = 3650 * kDayMs;  // ten years: anything longer is a typo
constexpr const char* kQueueNameProblem =
    "must be 1 to 64 of the characters A-Z a-z 0-9 _ . - and not start with '.'";
constexpr const char* kQueueNameFix = "choose a name like \"build-jobs\"";

bool IsValidQueueName(std::string_view name) {
  return !name.empty() && name.size() <= kMaxQueueNameChars && name.front() != '.' &&
         std::all_of(name.begin(), name.end(), IsNameChar);
}

bool IsQueueNameOrEmpty(std::string_view text) { return text.empty() || IsValidQueueName(text); }
bool IsAbsolutePathOrEmpty(std::string_view text) { return text.empty() || text.front() == '/'; }
bool IsAbsolutePattern(std::string_view text) { return !text.empty() && text.front() == '/'; }
bool IsAccountNameOrEmpty(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) > ' ' && c != ':' && c != 0x7f;
  });
}
bool IsEnvName(std::string_view text) {
  auto is_letter = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  };
  return !text.empty() && is_letter(text.front()) &&
         std::all_of(text.begin(), text.end(),
                     [&](char c) { return is_letter(c) || (c >= '0' && c <= '9'); });
}

constexpr TextRule kQueueRule = {IsQueueNameOrEmpty, kQueueNameProblem,
                                 "choose a name like \"build-jobs\", or \"\" for taskq-<uid>"};
constexpr TextRule kDirectoryRule = {IsAbsolutePathOrEmpty,
                                     "must be an absolute path, or \"\" for the default",
                                     "start it with '/'; ~ and $VARIABLES are not expanded"};
bool IsListenAddressOrEmpty(std::string_view text) {
  std::string address;
  uint16_t port = 0;
  return text.empty() || ParseListenAddress(text, &address, &port);
}
constexpr TextRule kListenRule = {
    IsListenAddressOrEmpty, "must be ADDRESS:PORT with an IP address and a port 1..65535",
    "write e.g. 127.0.0.1:9464 or [::1]:9464 (host names are not resolved), or \"\" for off"};
constexpr TextRule kAccountRule = {
    IsAccountNameOrEmpty, "must be a name or number without spaces, ':' or control characters",
    "write the name as /etc/passwd or /etc/group spells it, or \"\" for none"};
constexpr TextRule kExecAllowRule = {IsAbsolutePattern,
                                     "must be an absolute path or a glob starting with '/'",
                                     "write the full path, e.g. /usr/bin/python3 or /opt/jobs/*"};
constexpr TextRule kEnvNameRule = {
    IsEnvName, "must be an environment variable name: letters, digits and _, not digit first",
    "write the bare name, e.g. PATH, without '$' or '='"};

// One key of a YAML map: how to read its value into a T and how to write it back.
template <typename T>
struct Field {
  const char* name;
  Status (*load)(const ConfigValue& value, T* target);
  void (*dump)(const T& target, YAML::Emitter* out);
};

template <typename T, size_t N>
std::string KeyList(const Field<T> (&fields)[N]) {
  std::string list;
  for (const Field<T>& field : fields) list += (list.empty() ? "" : ", ") + std::string(field.name);
  return list;
}

// Reads a map whose keys are `fields`, in any order, each at most once. An empty value (a
// section whose keys are all commented out) changes nothing.
template <typename T, size_t N>
Status LoadMap(const ConfigValue& map, const Field<T> (&fields)[N], T* target) {
  if (map.node.IsNull()) return Status::Ok();
  if (!map.node.IsMap()) {
    return ValueError(map, "must be a map of \"key: value\" lines",
                      "valid keys are: " + KeyList(fields));
  }
  std::vector<YAML::Node> seen_keys;
  for (const auto& entry : map.node) {
    const YAML::Node& key = entry.first;
    if (!key.IsScalar()) {
      return ValueError(ConfigValue{key, map.source, map.path, key.Mark()},
                        "keys must be plain names", "write \"name: value\"");
    }
    const ConfigValue value = map.Child(key, entry.second);
    for (const YAML::Node& seen : seen_keys) {
      if (seen.Scalar() == key.Scalar()) {
        return ErrorAt(map.source, key.Mark(),
                       value.path + ": duplicate key, also set on line " +
                           std::to_string(seen.Mark().line + 1) + "; keep only one of them");
      }
    }
    seen_keys.push_back(key);
    const Field<T>* field =
        std::find_if(fields, fields + N, [&](const Field<T>& f) { return key.Scalar() == f.name; });
    if (field == fields + N) {
      return ErrorAt(map.source, key.Mark(),
                     value.path + ": unknown key; valid keys are: " + KeyList(fields));
    }
    TASKQ_RETURN_IF_ERROR(field->load(value, target));
  }
  return Status::Ok();
}

template <typename T, size_t N>
void DumpMap(const Field<T> (&fields)[N], const T& source, YAML::Emitter* out) {
  *out << YAML::BeginMap;
  for (const Field<T>& field : fields) {
    *out << YAML::Key << field.name << YAML::Value;
    field.dump(source, out);
  }
  *out << YAML::EndMap;
}

void DumpText(const std::string& text, YAML::Emitter* out) { *out << YAML::DoubleQuoted << text; }

void DumpTextList(const std::vector<std::string>& list, YAML::Emitter* out) {
  *out << YAML::Flow << YAML::BeginSeq;
  for (const std::string& item : list) DumpText(item, out);
  *out << YAML::EndSeq;
}

Status LoadStorage(const ConfigValue& value, Options* options) {
  std::string name;
  TASKQ_RETURN_IF_ERROR(
      ReadChoice(value, {StorageName(Storage::kShm), StorageName(Storage::kFile)}, &name));
  options->storage = name == StorageName(Storage::kFile) ? Storage::kFile : Storage::kShm;
  return Status::Ok();
}

// The settings a group shares with the top level read the same way in both places.
Status ReadPolicy(const ConfigValue& value, Policy* policy) {
  std::string name;
  TASKQ_RETURN_IF_ERROR(ReadChoice(
      value, {PolicyName(Policy::kPool), PolicyName(Policy::kProcess), PolicyName(Policy::kSlurm)},
      &name));
  ParsePolicy(name, policy);
  return Status::Ok();
}
Status ReadWorkers(const ConfigValue& value, uint32_t* workers) {
  return ReadUint(value, 0, kMaxWorkers, "0 = one per CPU", workers);
}
Status ReadMaxParallel(const ConfigValue& value, uint32_t* max_parallel) {
  return ReadUint(value, 0, 100000, "0 = unbounded", max_parallel);
}

using OptionsField = Field<Options>;
using GroupField = Field<GroupConfig>;

// on_finish: any one-line shell command (it runs as taskqd's user, as tasks do).
bool IsOneLine(std::string_view text) {
  return text.find_first_of("\n\r") == std::string_view::npos && text.size() <= 4096;
}
constexpr TextRule kHookRule = {IsOneLine, "must be one line of shell (at most 4096 bytes)",
                                "put a longer hook in a script and name the script"};
constexpr uint64_t kHookTimeoutMaxMs = 24ull * 3600 * 1000;

constexpr GroupField kGroupFields[] = {
    {"on_finish",
     [](const ConfigValue& v, GroupConfig* g) { return ReadString(v, kHookRule, &g->on_finish); },
     [](const GroupConfig& g, YAML::Emitter* out) { DumpText(g.on_finish, out); }},
    {"on_finish_timeout",
     [](const ConfigValue& v, GroupConfig* g) {
       return ReadDurationMs(v, kHookTimeoutMaxMs, &g->on_finish_timeout_ms);
     },
     [](const GroupConfig& g, YAML::Emitter* out) {
       *out << FormatDurationMs(g.on_finish_timeout_ms);
     }},
    {"policy", [](const ConfigValue& v, GroupConfig* g) { return ReadPolicy(v, &g->policy); },
     [](const GroupConfig& g, YAML::Emitter* out) { *out << PolicyName(g.policy); }},
    {"workers", [](const ConfigValue& v, GroupConfig* g) { return ReadWorkers(v, &g->workers); },
     [](const GroupConfig& g, YAML::Emitter* out) { *out << g.workers; }},
    {"max_parallel",
     [](const ConfigValue& v, GroupConfig* g) { return ReadMaxParallel(v, &g->max_parallel); },
     [](const GroupConfig& g, YAML::Emitter* out) { *out << g.max_parallel; }},
};

// `groups:` is a map from group name to that group's settings.
Status LoadGroups(const ConfigValue& value, Options* options) {
  options->groups.clear();
  if (value.node.IsNull()) return Status::Ok();
  if (!value.node.IsMap()) {
    return ValueError(value, "must be a map from group name to its settings",
                      "write one indented block per group, e.g. `groups: {io: {policy: process}}`");
  }
  for (const auto& entry : value.node) {
    const YAML::Node& key = entry.first;
    const ConfigValue child = value.Child(key, entry.second);
    const std::string name = key.IsScalar() ? key.Scalar() : "";
    if (!IsValidGroupName(name)) {
      return ErrorAt(value.source, key.Mark(),
                     child.path +
                         ": a group name must be 1 to 31 of A-Z a-z 0-9 _ . - and not "
                         "start with '.' or '-'; rename it, e.g. io-jobs");
    }
    if (name == "default") {
      return ErrorAt(value.source, key.Mark(),
                     child.path +
                         ": `default` is the top level; set its policy, workers and "
                         "max_parallel there");
    }
    for (const GroupConfig& seen : options->groups) {
      if (seen.name == name) {
        return ErrorAt(value.source, key.Mark(), child.path + ": duplicate group; keep one");
      }
    }
    if (options->groups.size() + 1 >= kMaxGroups) {
      return ErrorAt(value.source, key.Mark(),
                     child.path + ": too many groups; at most " + std::to_string(kMaxGroups - 1) +
                         " besides `default`");
    }
    GroupConfig group;
    group.name = name;
    TASKQ_RETURN_IF_ERROR(LoadMap(child, kGroupFields, &group));
    options->groups.push_back(std::move(group));
  }
  return Status::Ok();
}

void DumpGroups(const Options& o, YAML::Emitter* out) {
  if (o.groups.empty()) {
    *out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
    return;
  }
  *out << YAML::BeginMap;
  for (const GroupConfig& group : o.groups) {
    *out << YAML::Key << group.name << YAML::Value;
    DumpMap(kGroupFields, group, out);
  }
  *out << YAML::EndMap;
}
using LimitsField = Field<TaskLimits>;

constexpr OptionsField kRetentionFields[] = {
    {"count",
     [](const ConfigValue& v, Options* o) {
       return ReadUint(v, 0, kUint32Max, "", &o->retain_count);
     },
     [](const Options& o, YAML::Emitter* out) { *out << o.retain_count; }},
    {"age",
     [](const ConfigValue& v, Options* o) {
       return ReadDurationMs(v, kMaxDurationMs, &o->retain_age_ms);
     },
     [](const Options& o, YAML::Emitter* out) { *out << FormatDurationMs(o.retain_age_ms); }},
};

constexpr OptionsField kSecurityFields[] = {
    {"exec_enabled", [](const ConfigValue& v, Options* o) { return ReadBool(v, &o->exec_enabled); },
     [](const Options& o, YAML::Emitter* out) { *out << o.exec_enabled; }},
    {"exec_allow",
     [](const ConfigValue& v, Options* o) {
       return ReadStringList(v, kExecAllowRule, &o->exec_allow);
     },
     [](const Options& o, YAML::Emitter* out) { DumpTextList(o.exec_allow, out); }},
    {"env_allow",
     [](const ConfigValue& v, Options* o) {
       return ReadStringList(v, kEnvNameRule, &o->env_allow);
     },
     [](const Options& o, YAML::Emitter* out) { DumpTextList(o.env_allow, out); }},
    {"io_root",
     [](const ConfigValue& v, Options* o) { return ReadString(v, kDirectoryRule, &o->io_root); },
     [](const Options& o, YAML::Emitter* out) { DumpText(o.io_root, out); }},
    {"max_cpu_count",
     [](const ConfigValue& v, Options* o) {
       return ReadUint(v, 1, 1ull << 63, "", &o->max_cpu_count);
     },
     [](const Options& o, YAML::Emitter* out) { *out << o.max_cpu_count; }},
    {"max_io_bytes",
     [](const ConfigValue& v, Options* o) {
       return ReadSizeBytes(v, 1, 1ull << 40, &o->max_io_bytes);
     },
     [](const Options& o, YAML::Emitter* out) { *out << FormatSizeBytes(o.max_io_bytes); }},
};

constexpr LimitsField kLimitFields[] = {
    {"cpu_seconds",
     [](const ConfigValue& v, TaskLimits* l) {
       return ReadUint(v, 0, kUint32Max, "0 = no limit", &l->cpu_seconds);
     },
     [](const TaskLimits& l, YAML::Emitter* out) { *out << l.cpu_seconds; }},
    {"address_space_mb",
     [](const ConfigValue& v, TaskLimits* l) {
       return ReadUint(v, 0, 1ull << 40, "0 = no limit", &l->address_space_mb);
     },
     [](const TaskLimits& l, YAML::Emitter* out) { *out << l.address_space_mb; }},
    {"open_files",
     [](const ConfigValue& v, TaskLimits* l) {
       return ReadUint(v, 0, kInt32Max, "0 = no limit", &l->open_files);
     },
     [](const TaskLimits& l, YAML::Emitter* out) { *out << l.open_files; }},
    {"output_mb",
     [](const ConfigValue& v, TaskLimits* l) {
       return ReadUint(v, 0, 1ull << 40, "0 = no limit", &l->output_mb);
     },
     [](const TaskLimits& l, YAML::Emitter* out) { *out << l.output_mb; }},
};

bool IsSbatchOption(std::string_view text) { return text.size() > 1 && text.front() == '-'; }
constexpr TextRule kSbatchOptionRule = {IsSbatchOption,
                                        "must be an sbatch option starting with '-'",
                                        "write one option per item, e.g. \"--qos=short\""};
constexpr TextRule kPartitionRule = {IsAccountNameOrEmpty,
                                     "must be a partition name without spaces",
                                     "write the name sinfo shows, or \"\" for the default"};

bool IsListenAddress(std::string_view text) {
  std::string address;
  uint16_t port = 0;
  return ParsePilotListen(text, &address, &port);
}
constexpr TextRule kPilotListenRule = {IsListenAddress, "must be ADDRESS:PORT",
                                       "write e.g. 0.0.0.0:7878, or 127.0.0.1:0 for any port"};

using SlurmField = Field<SlurmOptions>;
constexpr SlurmField kSlurmFields[] = {
    {"partition",
     [](const ConfigValue& v, SlurmOptions* s) {
       return ReadString(v, kPartitionRule, &s->partition);
     },
     [](const SlurmOptions& s, YAML::Emitter* out) { DumpText(s.partition, out); }},
    {"time_limit",
     [](const ConfigValue& v, SlurmOptions* s) {
       return ReadDurationMs(v, 365 * kDayMs, &s->time_limit_ms);
     },
     [](const SlurmOptions& s, YAML::Emitter* out) { *out << FormatDurationMs(s.time_limit_ms); }},
    {"cpus_per_task",
     [](const ConfigValue& v, SlurmOptions* s) {
       return ReadUint(v, 1, 4096, "", &s->cpus_per_task);
     },
     [](const SlurmOptions& s, YAML::Emitter* out) { *out << s.cpus_per_task; }},
    {"extra_args",
     [](const ConfigValue& v, SlurmOptions* s) {
       return ReadStringList(v, kSbatchOptionRule, &s->extra_args);
     },
     [](const SlurmOptions& s, YAML::Emitter* out) { DumpTextList(s.extra_args, out); }},
    {"poll_interval",
     [](const ConfigValue& v, SlurmOptions* s) {
       TASKQ_RETURN_IF_ERROR(ReadDurationMs(v, kHourMs, &s->poll_interval_ms));
       if (s->poll_interval_ms < 10) {
         return ValueError(v, "must be at least 10ms", "write e.g. 500ms");
       }
       return Status::Ok();
     },
     [](const SlurmOptions& s, YAML::Emitter* out) {
       *out << FormatDurationMs(s.poll_interval_ms);
     }},
    {"max_jobs",
     [](const ConfigValue& v, SlurmOptions* s) { return ReadUint(v, 1, 100000, "", &s->max_jobs); },
     [](const SlurmOptions& s, YAML::Emitter* out) { *out << s.max_jobs; }},
    {"bin_dir",
     [](const ConfigValue& v, SlurmOptions* s) {
       return ReadString(v, kDirectoryRule, &s->bin_dir);
     },
     [](const SlurmOptions& s, YAML::Emitter* out) { DumpText(s.bin_dir, out); }},
    {"runner",
     [](const ConfigValue& v, SlurmOptions* s) {
       return ReadString(v, kDirectoryRule, &s->runner);
     },
     [](const SlurmOptions& s, YAML::Emitter* out) { DumpText(s.runner, out); }},
    {"controller_timeout",
     [](const ConfigValue& v, SlurmOptions* s) {
       return ReadDurationMs(v, kDayMs, &s->controller_timeout_ms);
     },
     [](const SlurmOptions& s, YAML::Emitter* out) {
       *out << FormatDurationMs(s.controller_timeout_ms);
     }},
    {"mode",
     [](const ConfigValue& v, SlurmOptions* s) {
       std::string name;
       TASKQ_RETURN_IF_ERROR(ReadChoice(v, {"job", "pilot"}, &name));
       s->mode = name == "pilot" ? SlurmMode::kPilot : SlurmMode::kJob;
       return Status::Ok();
     },
     [](const SlurmOptions& s, YAML::Emitter* out) {
       *out << (s.mode == SlurmMode::kPilot ? "pilot" : "job");
     }},
    {"max_pilots",
     [](const ConfigValue& v, SlurmOptions* s) {
       return ReadUint(v, 1, 10000, "", &s->max_pilots);
     },
     [](const SlurmOptions& s, YAML::Emitter* out) { *out << s.max_pilots; }},
    {"backlog",
     [](const ConfigValue& v, SlurmOptions* s) { return ReadUint(v, 1, 10000, "", &s->backlog); },
     [](const SlurmOptions& s, YAML::Emitter* out) { *out << s.backlog; }},
    {"pilot_slots",
     [](const ConfigValue& v, SlurmOptions* s) {
       return ReadUint(v, 1, 1024, "", &s->pilot_slots);
     },
     [](const SlurmOptions& s, YAML::Emitter* out) { *out << s.pilot_slots; }},
    {"pilot_time",
     [](const ConfigValue& v, SlurmOptions* s) {
       TASKQ_RETURN_IF_ERROR(ReadDurationMs(v, 365 * kDayMs, &s->pilot_time_ms));
       if (s->pilot_time_ms < 60000) {
         return ValueError(v, "must be at least 1m (Slurm's unit)", "write e.g. 1h");
       }
       return Status::Ok();
     },
     [](const SlurmOptions& s, YAML::Emitter* out) { *out << FormatDurationMs(s.pilot_time_ms); }},
    {"idle_timeout",
     [](const ConfigValue& v, SlurmOptions* s) {
       return ReadDurationMs(v, kDayMs, &s->idle_timeout_ms);
     },
     [](const SlurmOptions& s, YAML::Emitter* out) {
       *out << FormatDurationMs(s.idle_timeout_ms);
     }},
    {"heartbeat_timeout",
     [](const ConfigValue& v, SlurmOptions* s) {
       TASKQ_RETURN_IF_ERROR(ReadDurationMs(v, kHourMs, &s->heartbeat_timeout_ms));
       if (s->heartbeat_timeout_ms < 1000) {
         return ValueError(v, "must be at least 1s (pilots beat every timeout/4)",
                           "write e.g. 10s");
       }
       return Status::Ok();
     },
     [](const SlurmOptions& s, YAML::Emitter* out) {
       *out << FormatDurationMs(s.heartbeat_timeout_ms);
     }},
    {"max_failed_starts",
     [](const ConfigValue& v, SlurmOptions* s) {
       return ReadUint(v, 1, 1000, "", &s->max_failed_starts);
     },
     [](const SlurmOptions& s, YAML::Emitter* out) { *out << s.max_failed_starts; }},
    {"sbatch_args",
     [](const ConfigValue& v, SlurmOptions* s) {
       return ReadStringList(v, kSbatchOptionRule, &s->sbatch_args);
     },
     [](const SlurmOptions& s, YAML::Emitter* out) { DumpTextList(s.sbatch_args, out); }},
    {"pilot_listen",
     [](const ConfigValue& v, SlurmOptions* s) {
       return ReadString(v, kPilotListenRule, &s->pilot_listen);
     },
     [](const SlurmOptions& s, YAML::Emitter* out) { DumpText(s.pilot_listen, out); }},
};

Status LoadDurability(const ConfigValue& value, Options* options) {
  std::string name;
  TASKQ_RETURN_IF_ERROR(
      ReadChoice(value,
                 {DurabilityName(Durability::kMemory), DurabilityName(Durability::kFlush),
                  DurabilityName(Durability::kSync)},
                 &name));
  for (Durability d : {Durability::kMemory, Durability::kFlush, Durability::kSync}) {
    if (name == DurabilityName(d)) options->durability = d;
  }
  return Status::Ok();
}

// The top level, in the order of config/taskq.yaml.
constexpr OptionsField kOptionFields[] = {
    {"queue", [](const ConfigValue& v, Options* o) { return ReadString(v, kQueueRule, &o->queue); },
     [](const Options& o, YAML::Emitter* out) { DumpText(o.queue, out); }},
    {"storage", LoadStorage,
     [](const Options& o, YAML::Emitter* out) { *out << StorageName(o.storage); }},
    {"durability", LoadDurability,
     [](const Options& o, YAML::Emitter* out) { *out << DurabilityName(o.durability); }},
    {"state_dir",
     [](const ConfigValue& v, Options* o) { return ReadString(v, kDirectoryRule, &o->state_dir); },
     [](const Options& o, YAML::Emitter* out) { DumpText(o.state_dir, out); }},
    {"capacity",
     [](const ConfigValue& v, Options* o) { return ReadUint(v, 16, 4194304, "", &o->capacity); },
     [](const Options& o, YAML::Emitter* out) { *out << o.capacity; }},
    {"mode",
     [](const ConfigValue& v, Options* o) {
       Status read = ReadFileMode(v, {0600, 0640}, &o->mode);
       if (!read.ok() && v.node.IsScalar() &&
           (v.node.Scalar() == "0660" || v.node.Scalar() == "660")) {
         // Group members used to write the segment; now they only read it (docs/SECURITY.md).
         return Status::Invalid(read.message() +
                                " (0660 is gone: members submit through control.sock and map the "
                                "segment read-only)");
       }
       return read;
     },
     [](const Options& o, YAML::Emitter* out) { DumpText(FormatFileMode(o.mode), out); }},
    {"group",
     [](const ConfigValue& v, Options* o) { return ReadString(v, kAccountRule, &o->group); },
     [](const Options& o, YAML::Emitter* out) { DumpText(o.group, out); }},
    {"user", [](const ConfigValue& v, Options* o) { return ReadString(v, kAccountRule, &o->user); },
     [](const Options& o, YAML::Emitter* out) { DumpText(o.user, out); }},
    {"admins",
     [](const ConfigValue& v, Options* o) { return ReadString(v, kAccountRule, &o->admins); },
     [](const Options& o, YAML::Emitter* out) { DumpText(o.admins, out); }},
    {"run_as",
     [](const ConfigValue& v, Options* o) {
       return ReadChoice(v, {"daemon", "submitter"}, &o->run_as);
     },
     [](const Options& o, YAML::Emitter* out) { DumpText(o.run_as, out); }},
    {"max_queued_per_user",
     [](const ConfigValue& v, Options* o) {
       return ReadUint(v, 0, 4194304, "", &o->max_queued_per_user);
     },
     [](const Options& o, YAML::Emitter* out) { *out << o.max_queued_per_user; }},
    {"policy", [](const ConfigValue& v, Options* o) { return ReadPolicy(v, &o->policy); },
     [](const Options& o, YAML::Emitter* out) { *out << PolicyName(o.policy); }},
    {"workers", [](const ConfigValue& v, Options* o) { return ReadWorkers(v, &o->workers); },
     [](const Options& o, YAML::Emitter* out) { *out << o.workers; }},
    {"max_parallel",
     [](const ConfigValue& v, Options* o) { return ReadMaxParallel(v, &o->max_parallel); },
     [](const Options& o, YAML::Emitter* out) { *out << o.max_parallel; }},
    {"max_tasks_per_worker",
     [](const ConfigValue& v, Options* o) {
       return ReadUint(v, 0, kUint32Max, "0 = never recycle", &o->max_tasks_per_worker);
     },
     [](const Options& o, YAML::Emitter* out) { *out << o.max_tasks_per_worker; }},
    {"groups", LoadGroups, DumpGroups},
    {"default_timeout",
     [](const ConfigValue& v, Options* o) {
       return ReadDurationMs(v, kMaxDurationMs, &o->default_timeout_ms);
     },
     [](const Options& o, YAML::Emitter* out) { *out << FormatDurationMs(o.default_timeout_ms); }},
    {"default_retries",
     [](const ConfigValue& v, Options* o) { return ReadUint(v, 0, 100, "", &o->default_retries); },
     [](const Options& o, YAML::Emitter* out) { *out << o.default_retries; }},
    {"on_finish",
     [](const ConfigValue& v, Options* o) { return ReadString(v, kHookRule, &o->on_finish); },
     [](const Options& o, YAML::Emitter* out) { DumpText(o.on_finish, out); }},
    {"on_finish_timeout",
     [](const ConfigValue& v, Options* o) {
       return ReadDurationMs(v, kHookTimeoutMaxMs, &o->on_finish_timeout_ms);
     },
     [](const Options& o, YAML::Emitter* out) {
       *out << FormatDurationMs(o.on_finish_timeout_ms);
     }},
    {"kill_grace",
     [](const ConfigValue& v, Options* o) { return ReadDurationMs(v, kHourMs, &o->kill_grace_ms); },
     [](const Options& o, YAML::Emitter* out) { *out << FormatDurationMs(o.kill_grace_ms); }},
    {"leftovers",
     [](const ConfigValue& v, Options* o) {
       std::string name;
       TASKQ_RETURN_IF_ERROR(ReadChoice(v, {"kill", "wait"}, &name));
       o->leftovers = name == "wait" ? Leftovers::kWait : Leftovers::kKill;
       return Status::Ok();
     },
     [](const Options& o, YAML::Emitter* out) {
       *out << (o.leftovers == Leftovers::kWait ? "wait" : "kill");
     }},
    {"retention", [](const ConfigValue& v, Options* o) { return LoadMap(v, kRetentionFields, o); },
     [](const Options& o, YAML::Emitter* out) { DumpMap(kRetentionFields, o, out); }},
    {"shutdown_grace",
     [](const ConfigValue& v, Options* o) {
       return ReadDurationMs(v, kDayMs, &o->shutdown_grace_ms);
     },
     [](const Options& o, YAML::Emitter* out) { *out << FormatDurationMs(o.shutdown_grace_ms); }},
    {"keep_running", [](const ConfigValue& v, Options* o) { return ReadBool(v, &o->keep_running); },
     [](const Options& o, YAML::Emitter* out) { *out << o.keep_running; }},
    {"log_level",
     [](const ConfigValue& v, Options* o) {
       return ReadChoice(v, {"trace", "debug", "info", "warn", "error", "off"}, &o->log_level);
     },
     [](const Options& o, YAML::Emitter* out) { *out << o.log_level; }},
    {"metrics_listen",
     [](const ConfigValue& v, Options* o) {
       return ReadString(v, kListenRule, &o->metrics_listen);
     },
     [](const Options& o, YAML::Emitter* out) { DumpText(o.metrics_listen, out); }},
    {"security", [](const ConfigValue& v, Options* o) { return LoadMap(v, kSecurityFields, o); },
     [](const Options& o, YAML::Emitter* out) { DumpMap(kSecurityFields, o, out); }},
    {"limits",
     [](const ConfigValue& v, Options* o) { return LoadMap(v, kLimitFields, &o->limits); },
     [](const Options& o, YAML::Emitter* out) { DumpMap(kLimitFields, o.limits, out); }},
    {"slurm", [](const ConfigValue& v, Options* o) { return LoadMap(v, kSlurmFields, &o->slurm); },
     [](const Options& o, YAML::Emitter* out) { DumpMap(kSlurmFields, o.slurm, out); }},
};

Status CannotRead(const std::string& path, int error) {
  return Status::Invalid(path + ": cannot read the configuration file: " + std::strerror(error) +
                         "; check the path and its permissions");
}

Status ReadWholeFile(const std::string& path, std::string* text) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return CannotRead(path, errno);
  char buffer[8192];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n > 0) {
      text->append(buffer, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      const int error = errno;
      close(fd);
      return CannotRead(path, error);
    }
  }
  close(fd);
  return Status::Ok();
}

// yaml-cpp 0.7 (Debian 12) allocates without bound when a document's root is not a block map and
// a ',' follows it (e.g. a lone `,`, `"x",`, or a multi-line plain scalar with a line starting with
// ','; found by tests/fuzz/fuzz_config). A taskq configuration's root is always a block map whose
// keys are plain names, so each document must start with `name:` before yaml-cpp sees it.
bool StartsWithPlainKey(std::string_view text) {
  size_t i = 0;
  auto is_key_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  while (i < text.size() && is_key_char(text[i])) ++i;
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
  if (i == 0 || i >= text.size() || text[i] != ':') return false;
  return i + 1 == text.size() || text[i + 1] == ' ' || text[i + 1] == '\t' || text[i + 1] == '\r';
}

YAML::Mark MarkAt(size_t line, size_t column) {
  YAML::Mark mark;
  mark.line = static_cast<int>(line);
  mark.column = static_cast<int>(column);
  return mark;
}

Status RefuseNonMapRoot(const std::string& yaml, const std::string& source_name) {
  bool at_document_start = true;
  size_t line_number = 0;
  for (size_t begin = 0; begin <= yaml.size(); ++line_number) {
    size_t end = yaml.find('\n', begin);
    if (end == std::string::npos) end = yaml.size();
    std::string_view line(yaml.data() + begin, end - begin);
    begin = end + 1;
    for (size_t i = 0; i < line.size(); ++i) {
      const auto c = static_cast<unsigned char>(line[i]);
      if ((c < ' ' && c != '\t' && c != '\r') || c == 0x7f) {
        return ErrorAt(source_name, MarkAt(line_number, i),
                       "control character " + std::to_string(c) +
                           " in the file; a configuration is text: remove it");
      }
    }
    if (line.starts_with("%")) {
      return ErrorAt(source_name, MarkAt(line_number, 0),
                     "YAML directives (%) are not used by taskq; delete this line");
    }
    size_t column = line.find_first_not_of(" \t\r");
    if (line.starts_with("---")) {
      at_document_start = true;
      column = line.find_first_not_of(" \t\r", 3);
    }
    if (column == std::string_view::npos || line[column] == '#' || line.starts_with("...") ||
        !at_document_start) {
      continue;
    }
    at_document_start = false;
    std::string_view first = line.substr(column);
    while (!first.empty() && (first.back() == ' ' || first.back() == '\r')) first.remove_suffix(1);
    const bool empty_document = first == "~" || first == "null";  // same as an empty file
    if (!empty_document && !StartsWithPlainKey(first)) {
      const YAML::Mark mark = MarkAt(line_number, column);
      const size_t shown = std::min<size_t>(line.size() - column, 20);
      return ValueError(
          ConfigValue{YAML::Node(std::string(line.substr(column, shown))), source_name, "", mark},
          "must be a map of \"key: value\" lines",
          "start the file with a key such as \"workers: 2\"");
    }
  }
  return Status::Ok();
}

}  // namespace

Status LoadOptionsFromString(const std::string& yaml, const std::string& source_name,
                             Options* options) {
  // yaml-cpp reports problems by throwing; this is the boundary where they become a Status.
  TASKQ_RETURN_IF_ERROR(RefuseNonMapRoot(yaml, source_name));
  try {
    const std::vector<YAML::Node> documents = YAML::LoadAll(yaml);
    if (documents.size() > 1) {
      return ErrorAt(source_name, documents[1].Mark(),
                     "top level: only one YAML document is read, got " +
                         std::to_string(documents.size()) + "; remove the '---' separators");
    }
    Options loaded = *options;
    if (!documents.empty()) {
      TASKQ_RETURN_IF_ERROR(
          LoadMap(ConfigValue::Document(documents[0], source_name), kOptionFields, &loaded));
    }
    *options = std::move(loaded);
    return Status::Ok();
  } catch (const YAML::ParserException& e) {
    return ErrorAt(
        source_name, e.mark,
        "YAML syntax error: " + e.msg + "; fix the YAML at this position or just before it");
  } catch (const YAML::Exception& e) {
    return ErrorAt(source_name, e.mark,
                   "cannot read the YAML: " + e.msg + "; simplify the construct at this place");
  }
}

Status LoadOptionsFromFile(const std::string& path, Options* options) {
  std::string text;
  TASKQ_RETURN_IF_ERROR(ReadWholeFile(path, &text));
  return LoadOptionsFromString(text, path, options);
}

std::string OptionsToYaml(const Options& options) {
  YAML::Emitter out;
  DumpMap(kOptionFields, options, &out);
  return std::string(out.c_str()) + "\n";
}

Status ValidateQueueName(const std::string& name) {
  if (IsValidQueueName(name)) return Status::Ok();
  return Status::Invalid(std::string("queue name: ") + kQueueNameProblem + ", got " +
                         ShownText(name) + "; " + kQueueNameFix);
}

}  // namespace taskq
