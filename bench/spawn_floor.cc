// The machine's floor for running short processes: N `/bin/true` by posix_spawn, P at once, each
// reaped by wait. Nothing taskq does per task is in it, so a scheduler running `true` tasks on
// this machine cannot go faster (scripts/slurm-bench.sh compares the pilots with it).
//   spawn_floor N P      prints: N x /bin/true, P at once: S s, R tasks/s
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

extern char** environ;

int main(int argc, char** argv) {
  const long total = argc == 3 ? std::strtol(argv[1], nullptr, 10) : 0;
  const long at_once = argc == 3 ? std::strtol(argv[2], nullptr, 10) : 0;
  if (total <= 0 || at_once <= 0) {
    std::fprintf(stderr, "usage: spawn_floor N P   (N processes, P at once; both > 0)\n");
    return 2;
  }
  char program[] = "true";
  char* args[] = {program, nullptr};
  const auto start = std::chrono::steady_clock::now();
  long started = 0, done = 0, running = 0;
  while (done < total) {
    while (running < at_once && started < total) {
      pid_t pid = 0;
      if (posix_spawn(&pid, "/bin/true", nullptr, nullptr, args, environ) != 0) {
        std::perror("spawn_floor: posix_spawn /bin/true");
        return 1;
      }
      ++started;
      ++running;
    }
    int status = 0;
    if (::wait(&status) > 0) {
      --running;
      ++done;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%ld x /bin/true, %ld at once: %.3f s, %.1f tasks/s\n", total, at_once, seconds,
              static_cast<double>(total) / seconds);
  return 0;
}
