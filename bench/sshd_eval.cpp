// sshd_eval: the cost of computing the effective sshd settings in process, without the cost of
// starting a program: reads the root's sshd_config with its includes and prints nothing, N times.
//
//   sshd_eval ROOT [ITERATIONS]    prints "load+dump: median X us, min Y us over N runs"
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "agent/parsers/account_db.h"
#include "agent/parsers/sshd_config.h"
#include "common/fs.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: sshd_eval ROOT [ITERATIONS]\n");
    return 2;
  }
  int iterations = argc > 2 ? std::max(1, std::atoi(argv[2])) : 200;
  auto fs = tidemark::OpenRootFs(argv[1]);
  if (!fs.ok()) {
    std::fprintf(stderr, "sshd_eval: %s\n", fs.status().message().c_str());
    return 1;
  }
  std::vector<double> us;
  size_t lines = 0;
  for (int i = 0; i < iterations; ++i) {
    auto start = std::chrono::steady_clock::now();
    auto config = tidemark::agent::sshd::SshdConfig::Load(**fs, nullptr);
    auto dump = config.Dump({});
    auto end = std::chrono::steady_clock::now();
    if (!dump.ok()) {
      std::fprintf(stderr, "sshd_eval: %s\n", dump.status().message().c_str());
      return 1;
    }
    lines = dump->size();
    us.push_back(std::chrono::duration<double, std::micro>(end - start).count());
  }
  std::sort(us.begin(), us.end());
  std::printf(
      "| tidemark in process: read + evaluate + print sshd config (%zu lines) | %.0f us | %.0f us "
      "| | | %d runs |\n",
      lines, us[us.size() / 2], us.front(), iterations);
  return 0;
}
