// The `files` section: metadata (type, mode, owner, group, size, mtime) and, where it is safe,
// the SHA-256 of a default list of security-relevant paths (account databases, sudoers, sshd
// configuration, SSH host keys as metadata only, cron, PAM, login.defs, /etc/security, audit
// rules, /root and each login user's home, dot files and .ssh) plus --files-extra paths and
// globs, and the trust files that should not exist (.rhosts, .shosts, .netrc, .forward,
// hosts.equiv). docs/sections/files.md documents each field and the hashing rules.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/section_reader.h"

namespace tidemark::agent {

class FilesReader final : public SectionReader {
 public:
  std::string_view name() const override { return "files"; }
  void Collect(CollectContext& ctx, Section& out) override;
};

// Expands an in-root glob (fnmatch(3) per component, no FNM_PERIOD: "*" matches dot files
// too; "." and ".." never). Wildcard components only descend into real directories, never
// through symlinks. A pattern without wildcards is returned as is. Results are sorted. A
// directory that exists but cannot be listed (permissions, over Fs's entry limit) is added to
// `errors` when given.
std::vector<std::string> ExpandGlob(const Fs& fs, std::string_view pattern,
                                    std::vector<SectionError>* errors = nullptr);

// Returns why a file's content is never hashed ("private_key", "may_hold_secrets"), or "" when
// its name allows hashing. See docs/sections/files.md.
std::string_view NoHashReason(std::string_view path);

}  // namespace tidemark::agent
