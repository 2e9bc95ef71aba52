// The `network` section: listening TCP and unconnected (bound) UDP sockets of both IP families,
// read from the kernel over netlink sock_diag (agent/sock_diag.h) as `ss -ltu` does, with the
// processes that hold them (from /proc/PID/fd), their user and systemd unit. Live host only:
// under --root the section is not_applicable. docs/sections/network.md documents the fields.
#pragma once

#include <functional>
#include <vector>

#include "agent/section_reader.h"
#include "agent/sock_diag.h"

namespace tidemark::agent {

using SocketSource = std::function<StatusOr<std::vector<DiagSocket>>()>;

class NetworkReader final : public SectionReader {
 public:
  NetworkReader();
  // For tests: a socket table in place of the kernel's (process mapping still reads ctx.fs()).
  explicit NetworkReader(SocketSource source, bool require_live = true);
  std::string_view name() const override { return "network"; }
  void Collect(CollectContext& ctx, Section& out) override;

 private:
  SocketSource source_;
  bool require_live_;
};

}  // namespace tidemark::agent
