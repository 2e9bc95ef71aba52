// measure: runs a command several times and prints its median wall time and peak RSS, measured
// by the kernel (wait4 rusage), so tidemark and its peers are measured the same way.
//
//   measure [--runs N] [--label TEXT] -- COMMAND [ARGS...]
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  int runs = 5;
  std::string label;
  int i = 1;
  for (; i < argc; ++i) {
    if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--label") == 0 && i + 1 < argc) {
      label = argv[++i];
    } else if (std::strcmp(argv[i], "--") == 0) {
      ++i;
      break;
    } else {
      break;
    }
  }
  if (i >= argc) {
    std::fprintf(stderr, "usage: measure [--runs N] [--label TEXT] -- COMMAND [ARGS...]\n");
    return 2;
  }
  std::vector<double> wall_ms;
  long max_rss_kb = 0;
  int last_status = 0;
  for (int r = 0; r < runs; ++r) {
    auto start = std::chrono::steady_clock::now();
    pid_t pid = ::fork();
    if (pid == 0) {
      int devnull = ::open("/dev/null", O_WRONLY);
      ::dup2(devnull, 1);
      ::dup2(devnull, 2);
      ::execvp(argv[i], argv + i);
      _exit(127);
    }
    int status = 0;
    struct rusage ru {};
    ::wait4(pid, &status, 0, &ru);
    auto end = std::chrono::steady_clock::now();
    wall_ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
    max_rss_kb = std::max(max_rss_kb, ru.ru_maxrss);
    last_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  }
  std::sort(wall_ms.begin(), wall_ms.end());
  std::string cmd;
  for (int k = i; k < argc; ++k) cmd += (k > i ? " " : "") + std::string(argv[k]);
  std::printf("| %s | %.1f ms | %.1f ms | %.1f MB | %d | `%s` |\n",
              label.empty() ? argv[i] : label.c_str(), wall_ms[wall_ms.size() / 2], wall_ms.front(),
              static_cast<double>(max_rss_kb) / 1024.0, last_status, cmd.c_str());
  return 0;
}
