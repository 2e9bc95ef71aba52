#include "agent/systemd_units.h"

#include <algorithm>
#include <set>
#include <tuple>

namespace tidemark::agent {
namespace {

using unit_file::ClassifyName;
using unit_file::NameKind;

constexpr size_t kMaxUnitFile = 4u << 20;
constexpr int kFollowMax = 64;  // UNIT_FILE_FOLLOW_SYMLINK_MAX

bool StartsWithDir(std::string_view path, std::string_view dir) {
  if (dir == "/") return true;
  return path.size() > dir.size() && path.substr(0, dir.size()) == dir && path[dir.size()] == '/';
}

bool IsRuntimeDir(std::string_view dir) { return dir == "/run" || StartsWithDir(dir, "/run"); }

// An error that ends a lookup, like a negative errno in install.c.
struct Failure {
  enum Kind { kNone, kNotFound, kSkip, kFatal } kind = kNone;
  std::string message;
};

}  // namespace

const std::vector<std::string>& SystemUnitSearchPath() {
  static const std::vector<std::string> kPath = {
      "/etc/systemd/system.control", "/run/systemd/system.control",
      "/run/systemd/transient",      "/run/systemd/generator.early",
      "/etc/systemd/system",         "/etc/systemd/system.attached",
      "/run/systemd/system",         "/run/systemd/system.attached",
      "/run/systemd/generator",      "/usr/local/lib/systemd/system",
      "/lib/systemd/system",         "/usr/lib/systemd/system",
      "/run/systemd/generator.late"};
  return kPath;
}

struct UnitLookup::Impl {
  struct Link {
    std::string name;
    std::string dest;  // absolute, in-root
  };
  struct DirIndex {
    std::string path;
    std::vector<Link> top_links;
    std::vector<std::pair<std::string, std::vector<Link>>> wants;  // .wants/.requires dirs
    std::vector<std::string> unit_names;                           // regular files and links
  };

  const Fs& fs;
  std::vector<std::string> search;
  std::vector<DirIndex> index;
  std::vector<SectionError> errors;
  std::set<std::pair<std::string, std::string>> reported;
  // Per lookup (systemd builds a fresh InstallContext per is-enabled).
  std::map<std::string, std::unique_ptr<UnitInfo>> ctx;

  explicit Impl(const Fs& f) : fs(f) {
    std::set<std::pair<uint64_t, uint64_t>> seen;
    for (const auto& dir : SystemUnitSearchPath()) {
      auto st = fs.Stat(dir, true);
      if (!st.ok()) {
        if (st.status().code() != StatusCode::kNotFound &&
            st.status().code() != StatusCode::kWrongType) {
          Report(dir, st.status().message());
        }
        continue;
      }
      if (st->type != FileType::kDirectory) continue;
      if (!seen.insert({st->dev, st->ino}).second) continue;  // lookup_paths_reduce
      search.push_back(dir);
      index.push_back(IndexDir(dir));
    }
  }

  void Report(const std::string& path, const std::string& message) {
    if (reported.insert({path, message}).second) errors.push_back({path, std::nullopt, message});
  }

  std::vector<Link> Links(const std::string& dir, std::vector<std::string>* unit_names) {
    std::vector<Link> links;
    auto names = fs.ListDir(dir);
    if (!names.ok()) {
      Report(dir, names.status().message());
      return links;
    }
    for (const auto& n : *names) {
      std::string p = JoinPath(dir, n);
      auto st = fs.Stat(p, false);
      if (!st.ok()) continue;
      if (unit_names && ClassifyName(n) != NameKind::kInvalid &&
          (st->type == FileType::kRegular || st->type == FileType::kSymlink)) {
        unit_names->push_back(n);
      }
      if (st->type != FileType::kSymlink) continue;
      auto target = fs.ReadLink(p);
      if (!target.ok()) continue;
      std::string dest = *target;
      if (dest.empty() || dest.front() != '/') dest = JoinPath(dir, dest);
      links.push_back({n, NormalizePath(dest)});
    }
    return links;
  }

  DirIndex IndexDir(const std::string& dir) {
    DirIndex d;
    d.path = dir;
    d.top_links = Links(dir, &d.unit_names);
    auto names = fs.ListDir(dir);
    if (!names.ok()) return d;
    for (const auto& n : *names) {
      size_t dot = n.rfind('.');
      if (dot == std::string::npos) continue;
      std::string_view suffix = std::string_view(n).substr(dot);
      if (suffix != ".wants" && suffix != ".requires") continue;
      std::string p = JoinPath(dir, n);
      auto st = fs.Stat(p, false);  // DT_DIR: a symlink to a directory does not count
      if (!st.ok() || st->type != FileType::kDirectory) continue;
      d.wants.emplace_back(p, Links(p, nullptr));
    }
    return d;
  }

  UnitInfo* Add(const std::string& name) {
    auto& slot = ctx[name];
    if (!slot) {
      slot = std::make_unique<UnitInfo>();
      slot->name = name;
    }
    return slot.get();
  }

  // [Install] of a parsed file into `info` (install.c unit_file_load items[]).
  void ApplyInstall(UnitInfo& info, const unit_file::Parsed& parsed, const std::string& file) {
    std::string type = unit_file::TypeOf(info.name);
    bool may_alias = type == "service" || type == "socket" || type == "target" ||
                     type == "device" || type == "timer" || type == "path";
    for (const auto& a : parsed.assignments) {
      info.assignments.push_back(a);
      info.assignment_files.push_back(file);
      if (a.section != "Install") continue;
      std::vector<std::string>* list = nullptr;
      if (a.key == "Alias") {
        if (!may_alias) continue;
        list = &info.aliases;
      } else if (a.key == "WantedBy") {
        list = &info.wanted_by;
      } else if (a.key == "RequiredBy") {
        list = &info.required_by;
      } else if (a.key == "Also") {
        list = &info.also;
      } else if (a.key == "DefaultInstance") {
        if (ClassifyName(info.name) == NameKind::kTemplate) {
          info.default_instance =
              a.value.empty() ? std::nullopt : std::optional<std::string>(a.value);
        }
        continue;
      } else {
        continue;
      }
      if (a.value.empty()) {
        list->clear();  // an empty assignment resets the list
        continue;
      }
      for (auto& w : unit_file::SplitWords(a.value)) list->push_back(std::move(w));
    }
  }

  // Loads a regular file's content into `info`. Returns a failure for unreadable files.
  Failure LoadRegular(UnitInfo& info, const std::string& path, const FileInfo& st, bool dropin) {
    if (st.size == 0) {
      if (!dropin) info.type = UnitInfo::Type::kMasked;  // null_or_empty()
      return {};
    }
    ReadOptions opts;
    opts.max_bytes = kMaxUnitFile;
    auto content = fs.ReadFile(path, opts);
    if (!content.ok()) {
      Report(path, content.status().message());
      if (content.status().code() == StatusCode::kPermissionDenied && !dropin) {
        return {Failure::kSkip, content.status().message()};
      }
      return {Failure::kFatal, content.status().message()};
    }
    if (content->data.empty()) {
      if (!dropin) info.type = UnitInfo::Type::kMasked;
      return {};
    }
    unit_file::Parsed parsed = unit_file::Parse(content->data, path, errors);
    if (parsed.fatal) return {Failure::kFatal, "line too long"};
    ApplyInstall(info, parsed, path);
    if (!dropin) info.type = UnitInfo::Type::kRegular;
    return {};
  }

  // unit_file_load_or_readlink() for a main unit file.
  Failure LoadOrReadlink(UnitInfo& info, const std::string& path) {
    auto st = fs.Stat(path, false);
    if (!st.ok()) {
      StatusCode c = st.status().code();
      if (c == StatusCode::kNotFound) return {Failure::kNotFound, "No such file or directory"};
      if (c == StatusCode::kPermissionDenied || c == StatusCode::kWrongType) {
        return {Failure::kSkip, st.status().message()};  // EACCES, ENOTDIR
      }
      Report(path, st.status().message());
      return {Failure::kFatal, st.status().message()};
    }
    switch (st->type) {
      case FileType::kRegular:
        return LoadRegular(info, path, *st, false);
      case FileType::kCharDevice:
        info.type = UnitInfo::Type::kMasked;
        return {};
      case FileType::kSymlink:
        return ResolveSymlink(info, path);
      default:
        Report(path,
               "unit file is a " + std::string(FileTypeName(st->type)) + ", not a regular file");
        return {Failure::kFatal,
                st->type == FileType::kDirectory ? "Is a directory" : "not a regular file"};
    }
  }

  // unit_file_resolve_symlink(resolve_destination_target=true) plus the mask check.
  Failure ResolveSymlink(UnitInfo& info, const std::string& path) {
    auto target = fs.ReadLink(path);
    if (!target.ok()) {
      Report(path, target.status().message());
      return {Failure::kFatal, target.status().message()};
    }
    std::string dest = *target;
    if (dest.empty() || dest.front() != '/') dest = JoinPath(DirName(path), dest);
    dest = NormalizePath(dest);
    std::string filename = BaseName(path);
    for (const auto& dir : SystemUnitSearchPath()) {
      if (!StartsWithDir(dest, dir)) continue;
      std::string rest = dest.substr(dir.size() + 1);
      if (rest.find('/') != std::string::npos) {
        return {Failure::kFatal, "Invalid cross-device link"};  // suspicious symlink: EXDEV
      }
      // unit_validate_alias_symlink_or_warn(): the same unit type; plain to plain, template to
      // template, an instance to its own instance or to a template (instance propagation).
      NameKind src = ClassifyName(filename), dst = ClassifyName(rest);
      bool kinds_ok = (src == NameKind::kPlain && dst == NameKind::kPlain) ||
                      (src == NameKind::kTemplate && dst == NameKind::kTemplate) ||
                      (src == NameKind::kInstance && dst == NameKind::kTemplate) ||
                      (src == NameKind::kInstance && dst == NameKind::kInstance &&
                       unit_file::InstanceOf(filename) == unit_file::InstanceOf(rest));
      if (dst == NameKind::kInvalid || unit_file::TypeOf(filename) != unit_file::TypeOf(rest) ||
          !kinds_ok) {
        return {Failure::kFatal, "Invalid cross-device link"};
      }
      break;
    }
    info.symlink_target = dest;
    bool masked = dest == "/dev/null";
    if (!masked) {
      auto st = fs.Stat(dest, true);
      if (st.ok()) {
        masked =
            st->type == FileType::kCharDevice || (st->type == FileType::kRegular && st->size == 0);
      } else if (st.status().code() != StatusCode::kNotFound) {
        if (st.status().code() == StatusCode::kLoop) {
          return {Failure::kFatal, "Too many levels of symbolic links"};
        }
      }
    }
    info.type = masked ? UnitInfo::Type::kMasked : UnitInfo::Type::kSymlink;
    return {};
  }

  // conf_files_list_strv(".conf", dirs): one file per name, the first directory wins.
  Failure LoadDropins(UnitInfo& info, const std::string& template_name) {
    std::vector<std::string> dirs;
    for (const auto& d : search) dirs.push_back(JoinPath(d, info.name + ".d"));
    if (!template_name.empty()) {
      for (const auto& d : search) dirs.push_back(JoinPath(d, template_name + ".d"));
    }
    std::map<std::string, std::string> files;  // name -> path
    for (const auto& dir : dirs) {
      auto names = fs.ListDir(dir);
      if (!names.ok()) {
        StatusCode c = names.status().code();
        if (c != StatusCode::kNotFound && c != StatusCode::kWrongType) {
          Report(dir, names.status().message());
        }
        continue;
      }
      for (const auto& n : *names) {
        if (n.size() < 6 || n.substr(n.size() - 5) != ".conf") continue;
        if (files.count(n)) continue;
        files[n] = JoinPath(dir, n);
      }
    }
    for (const auto& [name, path] : files) {
      auto st = fs.Stat(path, true);
      if (!st.ok()) {
        if (st.status().code() == StatusCode::kNotFound) continue;
        Report(path, st.status().message());
        return {Failure::kFatal, st.status().message()};
      }
      if (st->type == FileType::kCharDevice) continue;  // masked drop-in
      if (st->type != FileType::kRegular) {
        Report(path, "drop-in is a " + std::string(FileTypeName(st->type)));
        continue;  // conf_files_list skips what is not a regular file
      }
      info.dropins.push_back(path);
      Failure f = LoadRegular(info, path, *st, true);
      if (f.kind != Failure::kNone) return {Failure::kFatal, f.message};
    }
    return {};
  }

  // unit_file_search().
  Failure Search(UnitInfo& info) {
    if (info.type != UnitInfo::Type::kUnknown) return {};
    if (!info.path.empty()) return LoadOrReadlink(info, info.path);
    std::string template_name;
    if (ClassifyName(info.name) == NameKind::kInstance) {
      template_name = unit_file::TemplateOf(info.name);
    }
    bool found = false;
    for (const std::string* candidate : {&info.name, &template_name}) {
      if (found || candidate->empty()) continue;
      for (const auto& dir : search) {
        std::string path = JoinPath(dir, *candidate);
        Failure f = LoadOrReadlink(info, path);
        if (f.kind == Failure::kNone) {
          info.path = path;
          found = true;
          break;
        }
        if (f.kind == Failure::kFatal) {
          info.path = path;  // where it failed, for the error
          return f;
        }
      }
    }
    if (!found) return {Failure::kNotFound, "No such file or directory"};
    if (info.type == UnitInfo::Type::kMasked) return {};
    return LoadDropins(info, template_name);
  }

  // install_info_traverse() with SEARCH_FOLLOW_CONFIG_SYMLINKS.
  Failure Traverse(UnitInfo* start, UnitInfo** ret) {
    Failure f = Search(*start);
    if (f.kind != Failure::kNone) return f;
    UnitInfo* i = start;
    int k = 0;
    while (i->type == UnitInfo::Type::kSymlink) {
      if (++k > kFollowMax) return {Failure::kFatal, "Too many levels of symbolic links"};
      std::string bn = BaseName(i->symlink_target);
      if (bn == i->name) {
        i->path = i->symlink_target;
        i->type = UnitInfo::Type::kUnknown;
        f = LoadOrReadlink(*i, i->path);  // install_info_follow(): no drop-in search here
        if (f.kind != Failure::kNone) return f;
        continue;
      }
      if (ClassifyName(i->name) == NameKind::kInstance && ClassifyName(bn) == NameKind::kTemplate) {
        std::string buffer = unit_file::ReplaceInstance(bn, unit_file::InstanceOf(i->name));
        if (buffer == i->name) {
          i->path = i->symlink_target;
          i->type = UnitInfo::Type::kUnknown;
          f = LoadOrReadlink(*i, i->path);
          if (f.kind != Failure::kNone) return f;
          continue;
        }
        bn = buffer;
      }
      i = Add(bn);
      f = Search(*i);
      if (f.kind == Failure::kNotFound) return {Failure::kFatal, "Link has been severed"};
      if (f.kind != Failure::kNone) return f;
    }
    *ret = i;
    return {};
  }

  static bool KnownName(const UnitInfo& i, const std::string& name) {
    if (name == i.name) return true;
    if (std::find(i.aliases.begin(), i.aliases.end(), name) != i.aliases.end()) return true;
    if (i.default_instance && ClassifyName(i.name) == NameKind::kTemplate &&
        name == unit_file::ReplaceInstance(i.name, *i.default_instance)) {
      return true;
    }
    return false;
  }

  // find_symlinks_in_directory(): 1 found, 0 not. In .wants/.requires directories
  // (ignore_destination) only the link's name counts: the unit's own name, or an instance of it
  // when it is a template; elsewhere also the link's target.
  static bool InDirectory(const std::vector<Link>& links, const std::string& dir_path,
                          const UnitInfo& info, bool ignore_destination, bool match_aliases,
                          bool ignore_same_name, const std::string& config_path,
                          bool& same_name_link) {
    for (const auto& l : links) {
      bool found_dest = !ignore_destination && BaseName(l.dest) == info.name;
      bool found_path = (ignore_destination || !ignore_same_name) && l.name == info.name;
      if (!found_path && ignore_destination && ClassifyName(l.name) == NameKind::kInstance) {
        found_dest = unit_file::TemplateOf(l.name) == info.name;
      }
      bool b = found_path && found_dest && dir_path == config_path;
      if (b) {
        same_name_link = true;
      } else if (found_path || found_dest) {
        if (!match_aliases) return true;
        if (KnownName(info, l.name)) return true;
      }
    }
    return false;
  }

  bool FindSymlinks(const DirIndex& d, const UnitInfo& info, bool match_aliases,
                    bool ignore_same_name, bool& same_name_link) {
    for (const auto& [path, links] : d.wants) {
      if (InDirectory(links, path, info, true, match_aliases, ignore_same_name, d.path,
                      same_name_link)) {
        return true;
      }
    }
    return InDirectory(d.top_links, d.path, info, false, match_aliases, ignore_same_name, d.path,
                       same_name_link);
  }

  // find_symlinks_in_scope(): returns the state when found.
  std::optional<std::string> InScope(const UnitInfo& info, bool match_aliases) {
    bool same_config = false, same_runtime = false, enabled_runtime = false, enabled = false;
    bool ignore_same_name = false;
    for (const auto& d : index) {
      bool same_name_link = false;
      if (FindSymlinks(d, info, match_aliases, ignore_same_name, same_name_link)) {
        if (d.path == "/etc/systemd/system") return "enabled";
        if (IsRuntimeDir(d.path)) {
          enabled_runtime = true;
        } else {
          enabled = true;
        }
      } else if (same_name_link) {
        if (d.path == "/etc/systemd/system") {
          same_config = true;
        } else if (IsRuntimeDir(d.path)) {
          same_runtime = true;
        }
      }
      if (!ignore_same_name && StartsWithDir(info.path, d.path)) ignore_same_name = true;
    }
    if (enabled_runtime) return "enabled-runtime";
    if (enabled && ClassifyName(info.name) == NameKind::kInstance) return "static";
    if (same_config) return "linked";
    if (same_runtime) return "linked-runtime";
    return std::nullopt;
  }

  static bool IsRuntimePath(const std::string& path) {
    if (StartsWithDir(path, "/run")) return true;
    return false;
  }

  UnitState Lookup(const std::string& name) {
    ctx.clear();
    UnitState out;
    if (ClassifyName(name) == NameKind::kInvalid) {
      out.state = "bad";
      out.error = "Invalid argument";
      return out;
    }
    UnitInfo* start = Add(name);
    UnitInfo* i = nullptr;
    Failure f = Traverse(start, &i);
    if (f.kind != Failure::kNone) {
      out.state = "bad";
      out.error = f.message;
      out.info = start->path.empty() ? nullptr : start;
      return out;
    }
    out.info = i;
    if (i->type == UnitInfo::Type::kMasked) {
      out.state = IsRuntimePath(i->path) ? "masked-runtime" : "masked";
      return out;
    }
    if (name != BaseName(i->path) && ClassifyName(i->name) != NameKind::kInstance) {
      out.state = "alias";
      return out;
    }
    std::string parent = DirName(i->path);
    if (parent == "/run/systemd/generator" || parent == "/run/systemd/generator.early" ||
        parent == "/run/systemd/generator.late") {
      out.state = "generated";
      return out;
    }
    if (parent == "/run/systemd/transient") {
      out.state = "transient";
      return out;
    }
    if (auto s = InScope(*i, true)) {
      out.state = *s;
      return out;
    }
    if (InScope(*i, false)) {
      out.state = "indirect";
    } else if (!i->aliases.empty() || !i->wanted_by.empty() || !i->required_by.empty()) {
      out.state = "disabled";
    } else if (!i->also.empty()) {
      out.state = "indirect";
    } else {
      out.state = "static";
    }
    return out;
  }
};

UnitLookup::UnitLookup(const Fs& fs) : impl_(std::make_unique<Impl>(fs)) {}
UnitLookup::~UnitLookup() = default;

const std::vector<std::string>& UnitLookup::search_path() const { return impl_->search; }

std::vector<std::string> UnitLookup::ListUnitNames() const {
  std::set<std::string> names;
  for (const auto& d : impl_->index) {
    for (const auto& n : d.unit_names) names.insert(n);
    for (const auto& [path, links] : d.wants) {
      for (const auto& l : links) {
        if (ClassifyName(l.name) == NameKind::kInstance) names.insert(l.name);
      }
    }
  }
  return {names.begin(), names.end()};
}

UnitState UnitLookup::LookupState(const std::string& name) { return impl_->Lookup(name); }

std::vector<SectionError>& UnitLookup::errors() { return impl_->errors; }

}  // namespace tidemark::agent
