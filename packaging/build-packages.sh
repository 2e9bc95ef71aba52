#!/bin/sh
# Builds the Debian packages (packaging/README.md) into BUILD_DIR/packages/:
#   tidemark-common_VERSION_all.deb      the shipped policies and tidemark(7)
#   tidemark-agent_VERSION_amd64.deb     the agent, its helpers, agent.conf, its unit
#   tidemark-collector_VERSION_amd64.deb the collector, tidemarkctl, collector.conf, the units
#                                        of the collector and the nightly report
#   packaging/build-packages.sh [BUILD_DIR]      (default: build)
# The build is configured for /usr (the default prefix; the programs carry their paths from it)
# and only the packaged programs are built.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
cmake -S "$src" -B "$build" -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
cmake --build "$build" -j"$(nproc)" --target tidemark-agent tidemark-uplink tidemark-judge \
  tidemark-collector tidemarkctl
build=$(cd "$build" && pwd)
rm -rf "$build/packages"
cpack --config "$build/CPackConfig.cmake" -B "$build/packages" >"$build/cpack.log" 2>&1 || {
  cat "$build/cpack.log" >&2
  exit 1
}
rm -rf "$build/packages/_CPack_Packages"
ls -1 "$build"/packages/*.deb
