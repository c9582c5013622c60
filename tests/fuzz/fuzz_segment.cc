// Fuzz target: attaching to and reading a segment whose bytes someone scribbled on. The input is
// either a whole segment file (first byte 0) or a list of patches applied to a valid segment of
// capacity 16 holding queued, running and finished tasks (first byte non-zero: repeated
// [offset:2][length:1][bytes], offsets modulo the segment size). Attach must refuse or accept
// without crashing; an accepted segment must survive every reader and the supervisor's looks at
// the held list, Repair() must leave it healthy, and Pop() must only hand out tasks whose record
// validates.
//
// The mutex bytes are never patched: a lock word naming a live thread would hang every locker,
// and no check of the bytes can tell that apart from a real holder (docs/SECURITY.md).
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/options.h"
#include "common/segment.h"

namespace {

struct Fixture {
  taskq::Options options;
  std::string path;
  std::string image;  // a valid segment with tasks in every state
};

std::string ReadFile(const std::string& path) {
  std::string bytes;
  const int fd = open(path.c_str(), O_RDONLY);
  char buffer[65536];
  for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) bytes.append(buffer, n);
  close(fd);
  return bytes;
}

void WriteFile(const std::string& path, const std::string& bytes) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
    std::abort();
  }
  close(fd);
}

Fixture* MakeFixture() {
  auto* fixture = new Fixture;
  char dir[] = "/tmp/taskq-fuzz-XXXXXX";
  if (mkdtemp(dir) == nullptr) std::abort();
  static std::string created_dir = dir;
  std::atexit([] {
    std::error_code ignored;
    std::filesystem::remove_all(created_dir, ignored);
  });
  taskq::Options options;
  options.queue = "fuzz";
  options.storage = taskq::Storage::kFile;
  options.state_dir = dir;
  options.capacity = 16;
  fixture->options = taskq::ResolveDefaults(options);
  fixture->path = taskq::LocateSegment(fixture->options).file_path;
  {
    std::unique_ptr<taskq::Segment> segment;
    if (!taskq::Segment::OpenAsSupervisor(fixture->options, &segment).ok()) std::abort();
    std::vector<taskq::TaskSpec> specs(6);
    specs[1].kind = taskq::TaskKind::kIo;
    specs[1].io.path = std::string(dir) + "/io/x.dat";
    specs[2].kind = taskq::TaskKind::kExec;
    specs[2].exec.argv = {"/bin/echo", "hello"};
    specs[2].exec.cwd = "/";
    specs[2].exec.env = {"A=B"};
    specs[3].not_before_us = taskq::NowUs() + 3600ull * 1000000;  // held: delayed
    specs[4].after = {1};                                         // held: waits on the first
    std::vector<uint64_t> ids;
    if (!segment->Submit(specs, &ids).ok()) std::abort();
    taskq::ClaimedTask claimed;
    segment->Pop(getpid(), &claimed);  // running
    segment->Pop(getpid(), &claimed);
    segment->Complete(claimed.slot, claimed.record.id, taskq::TaskOutcome{});  // succeeded
    (void)segment->Cancel(ids[5]);                                             // cancelled
  }
  fixture->image = ReadFile(fixture->path);
  return fixture;
}

bool InsideLock(size_t offset) {
  const size_t begin = offsetof(taskq::SegmentHeader, lock);
  return offset >= begin && offset < begin + sizeof(pthread_mutex_t);
}

void AbortIfUnhealthy(taskq::Segment& segment, const char* when) {
  // A running task whose runner is gone is not the segment's to fix: the supervisor's recovery
  // requeues it or marks it lost (its retry policy), so Repair() leaves it and so do we.
  bool unhealthy = false;
  for (const std::string& problem : segment.Check()) {
    if (problem.find("is running but its runner") != std::string::npos) continue;
    std::fprintf(stderr, "%s: %s\n", when, problem.c_str());
    unhealthy = true;
  }
  if (unhealthy) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* fixture = MakeFixture();
  std::string bytes;
  if (size > 0 && data[0] == 0) {
    bytes.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  } else {
    bytes = fixture->image;
    for (size_t i = size > 0 ? 1 : 0; i + 3 <= size;) {
      size_t offset = ((size_t{data[i]} << 8) | data[i + 1]) * 7 % bytes.size();
      size_t length = data[i + 2];
      i += 3;
      for (size_t k = 0; k < length && i < size; ++k, ++i, ++offset) {
        if (offset < bytes.size() && !InsideLock(offset))
          bytes[offset] = static_cast<char>(data[i]);
      }
    }
  }
  WriteFile(fixture->path, bytes);

  std::unique_ptr<taskq::Segment> segment;
  if (!taskq::Segment::Attach(fixture->options, &segment).ok()) return 0;
  (void)segment->Check();
  (void)segment->Count();
  for (const taskq::TaskInfo& info : segment->List()) {
    taskq::TaskInfo copy;
    (void)segment->Get(info.id(), &copy);
    (void)info.reason();
  }
  // The supervisor's looks at the held list read its join log and links before any repair.
  (void)segment->StepHeldJoins();
  (void)segment->SweepHeld();
  for (const std::string& fix : segment->Repair()) {
    if (std::getenv("FUZZ_VERBOSE") != nullptr) std::fprintf(stderr, "repair: %s\n", fix.c_str());
  }
  AbortIfUnhealthy(*segment, "after Repair()");  // repair must leave a healthy segment
  taskq::ClaimedTask claimed;
  for (int i = 0; i < 20 && segment->Pop(getpid(), &claimed); ++i) {
    taskq::TaskRecord copy = claimed.record;
    taskq::TaskSpec spec;
    if (!taskq::DecodeSpec(copy, &spec).ok()) std::abort();  // Pop hands out valid tasks only
    segment->Complete(claimed.slot, claimed.record.id, taskq::TaskOutcome{});
  }
  AbortIfUnhealthy(*segment, "after popping");
  return 0;
}
