// tidemarkctl pki init|issue|revoke: see pki.h and the usage text below.
//
// Layout of DIR (made 0700): ca.crt, ca.key, collector.crt, collector.key, crl.pem,
// agents/HOST.crt + HOST.key, revoked/HOST-SERIAL.crt (what the CRL lists). Keys are 0600.
// Every command can be run again: what exists is kept, and reported as kept.
#include "collector/ctl/pki.h"

#include <arpa/inet.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <sstream>

#include "common/config_file.h"
#include "common/read_file.h"
#include "common/text.h"
#include "common/transport/pki.h"
#include "common/transport/protocol.h"

namespace tidemark::ctl {
namespace {

namespace fs = std::filesystem;

constexpr const char* kUsage =
    "Usage: tidemarkctl pki COMMAND --dir DIR [OPTIONS]\n"
    "\n"
    "A file-based CA for the collector and its agents (ECDSA P-256, SHA-256):\n"
    "  init [--server-name NAMES] [--days N] [--renew]\n"
    "        make DIR/ca.{crt,key} (if absent) and the collector's DIR/collector.{crt,key}\n"
    "        for localhost, 127.0.0.1, ::1 and NAMES (comma-separated DNS names per RFC 1123\n"
    "        or IP addresses) and an empty DIR/crl.pem. A kept collector certificate that\n"
    "        lacks one of NAMES is an error (exit 1) unless --renew, which issues a new one\n"
    "  issue HOST [--days N] [--renew]\n"
    "        make the agent certificate DIR/agents/HOST.{crt,key} (clientAuth, CN = HOST;\n"
    "        HOST: 1 to 253 of A-Z a-z 0-9 . - _); an existing one is kept unless --renew\n"
    "  revoke HOST\n"
    "        add the host's current certificate to DIR/crl.pem (send SIGHUP to the\n"
    "        collector to reload it) and remove DIR/agents/HOST.*\n"
    "\n"
    "--days N: validity in days, 1 to 3650 (default 397).\n"
    "Keys are written mode 0600, DIR is made mode 0700. Running a command again keeps what\n"
    "exists. Exit codes: 0 done, 1 failure (including a kept certificate without a requested\n"
    "name), 2 usage (unknown option, a bad --days, HOST or NAME).\n";

bool Exists(const std::string& p) { return access(p.c_str(), F_OK) == 0; }

// A certificate, key or CRL of the CA directory (a CRL of many revocations stays far below).
StatusOr<std::string> ReadText(const std::string& path) {
  return ReadRegularFile(path, 16ull << 20);
}

Status MakeDir(const std::string& path) {
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status(StatusCode::kIoError, path + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status(StatusCode::kWrongType, path + ": not a directory");
  }
  return Status::Ok();
}

StatusOr<pki::KeyPair> LoadCa(const std::string& dir) {
  Status key_ok = pki::CheckPrivateKeyFile(dir + "/ca.key");
  if (!key_ok.ok()) return key_ok;
  auto key = ReadText(dir + "/ca.key");
  if (!key.ok()) return key.status();
  auto cert = ReadText(dir + "/ca.crt");
  if (!cert.ok()) return cert.status();
  return pki::KeyPair{*key, *cert};
}

Status WritePair(const std::string& base, const pki::KeyPair& pair) {
  Status s = pki::WritePem(base + ".key", pair.key_pem, 0600);
  if (!s.ok()) return s;
  return pki::WritePem(base + ".crt", pair.cert_pem, 0644);
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

int Usage(std::ostream& err, const std::string& message) {
  err << "tidemarkctl pki: " << message << "\nTry 'tidemarkctl pki --help'.\n";
  return 2;
}

// The validity in days: --days N, 1 to 3650. A usage error otherwise.
std::optional<int> Days(const ConfigMap& c, std::ostream& err) {
  auto days = GetInt(c, "days", 397, 1, 3650);
  if (!days.ok()) {
    Usage(err, days.status().message());
    return std::nullopt;
  }
  return static_cast<int>(*days);
}

// The names a collector certificate must carry: the defaults and --server-name, each a DNS name
// (RFC 1123) or an IP address. A usage error names the first bad one.
std::optional<std::string> ServerNames(const ConfigMap& c, pki::CertRequest& req) {
  req.dns_names = {"localhost"};
  req.ip_addresses = {"127.0.0.1", "::1"};
  for (const auto& n : SplitList(GetString(c, "server_name", ""))) {
    if (pki::IsIpAddress(n)) {
      req.ip_addresses.push_back(n);
    } else if (pki::IsValidDnsName(n)) {
      req.dns_names.push_back(n);
    } else {
      return "--server-name: '" + EscapeControlBounded(n, 64) +
             "' is neither a DNS name (RFC 1123: letters, digits, '-' in dot-separated labels of "
             "1 to 63) nor an IP address";
    }
  }
  return std::nullopt;
}

// The requested names that the certificate `cert_pem` does not carry.
std::vector<std::string> MissingNames(const std::string& cert_pem, const pki::CertRequest& req) {
  std::vector<std::string> missing;
  auto info = pki::Inspect(cert_pem);
  auto has = [](const std::vector<std::string>& list, const std::string& n) {
    for (const auto& x : list) {
      if (strcasecmp(x.c_str(), n.c_str()) == 0) return true;
    }
    return false;
  };
  for (const auto& d : req.dns_names) {
    if (!info.ok() || !has(info->dns_names, d)) missing.push_back(d);
  }
  for (const auto& ip : req.ip_addresses) {
    // Compare in one form: inet_ntop's ("::1", "127.0.0.1").
    std::string canon = ip;
    unsigned char buf[16];
    char text[INET6_ADDRSTRLEN] = {};
    int family = ip.find(':') != std::string::npos ? AF_INET6 : AF_INET;
    if (inet_pton(family, ip.c_str(), buf) == 1 && inet_ntop(family, buf, text, sizeof text)) {
      canon = text;
    }
    if (!info.ok() || !has(info->ip_addresses, canon)) missing.push_back(ip);
  }
  return missing;
}

Status WriteCrl(const std::string& dir, const pki::KeyPair& ca) {
  std::vector<std::string> revoked;
  std::error_code ec;
  if (fs::is_directory(dir + "/revoked", ec)) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir + "/revoked", ec)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      auto pem = ReadText(f.string());
      if (!pem.ok()) return pem.status();
      revoked.push_back(*pem);
    }
  }
  auto crl = pki::MakeCrl(ca, revoked, 30);
  if (!crl.ok()) return crl.status();
  return pki::WritePem(dir + "/crl.pem", *crl, 0644);
}

int Fail(std::ostream& err, const Status& s) {
  err << "tidemarkctl pki: " << s.message() << "\n";
  return 1;
}

int Init(const std::string& dir, const ConfigMap& c, std::ostream& out, std::ostream& err) {
  auto days = Days(c, err);
  if (!days) return 2;
  pki::CertRequest req;
  req.common_name = "tidemark-collector";
  req.role = pki::Role::kServer;
  req.days = *days;
  if (auto problem = ServerNames(c, req)) return Usage(err, *problem);
  if (Status s = MakeDir(dir); !s.ok()) return Fail(err, s);
  if (!Exists(dir + "/ca.key")) {
    auto ca = pki::MakeCa("tidemark CA", 3650);
    if (!ca.ok()) return Fail(err, ca.status());
    if (Status s = WritePair(dir + "/ca", *ca); !s.ok()) return Fail(err, s);
    out << "made CA " << dir << "/ca.crt\n";
  } else {
    out << "kept CA " << dir << "/ca.crt\n";
  }
  auto ca = LoadCa(dir);
  if (!ca.ok()) return Fail(err, ca.status());
  auto renew_flag = GetBool(c, "renew", false);
  bool renew = renew_flag.ok() && *renew_flag;
  bool make = !Exists(dir + "/collector.key") || renew;
  if (!make) {
    // A kept certificate must carry every requested name: an agent would otherwise fail later
    // with "hostname mismatch", far from the cause.
    auto cert = ReadText(dir + "/collector.crt");
    if (!cert.ok()) return Fail(err, cert.status());
    std::vector<std::string> missing = MissingNames(*cert, req);
    if (!missing.empty()) {
      std::string list;
      for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
      err << "tidemarkctl pki: ERROR: the existing " << dir
          << "/collector.crt does not carry the requested name(s) " << list
          << "; it was kept unchanged. Run init again with --renew to issue a new collector "
             "certificate (then restart the collector)\n";
      return 1;
    }
    out << "kept collector certificate " << dir << "/collector.crt\n";
  } else {
    auto pair = pki::Issue(*ca, req);
    if (!pair.ok()) return Fail(err, pair.status());
    if (Status s = WritePair(dir + "/collector", *pair); !s.ok()) return Fail(err, s);
    out << (renew ? "renewed" : "made") << " collector certificate " << dir << "/collector.crt\n";
  }
  if (!Exists(dir + "/crl.pem")) {
    if (Status s = WriteCrl(dir, *ca); !s.ok()) return Fail(err, s);
    out << "made CRL " << dir << "/crl.pem\n";
  }
  return 0;
}

int IssueAgent(const std::string& dir, const std::string& host, const ConfigMap& c,
               std::ostream& out, std::ostream& err) {
  auto days = Days(c, err);
  if (!days) return 2;
  auto ca = LoadCa(dir);
  if (!ca.ok()) return Fail(err, ca.status());
  if (Status s = MakeDir(dir + "/agents"); !s.ok()) return Fail(err, s);
  std::string base = dir + "/agents/" + host;
  if (Exists(base + ".key") && !*GetBool(c, "renew", false)) {
    out << "kept agent certificate " << base << ".crt\n";
    return 0;
  }
  pki::CertRequest req;
  req.common_name = host;
  req.role = pki::Role::kClient;
  req.days = *days;
  auto pair = pki::Issue(*ca, req);
  if (!pair.ok()) return Fail(err, pair.status());
  if (Status s = WritePair(base, *pair); !s.ok()) return Fail(err, s);
  out << "made agent certificate " << base << ".crt (CN " << host << ")\n";
  return 0;
}

int Revoke(const std::string& dir, const std::string& host, std::ostream& out, std::ostream& err) {
  auto ca = LoadCa(dir);
  if (!ca.ok()) return Fail(err, ca.status());
  std::string base = dir + "/agents/" + host;
  auto cert = ReadText(base + ".crt");
  if (!cert.ok()) return Fail(err, cert.status());
  auto fp = pki::Fingerprint(*cert);
  if (!fp.ok()) return Fail(err, fp.status());
  if (Status s = MakeDir(dir + "/revoked"); !s.ok()) return Fail(err, s);
  std::string kept = dir + "/revoked/" + host + "-" + fp->substr(7, 16) + ".crt";
  if (Status s = pki::WritePem(kept, *cert, 0644); !s.ok()) return Fail(err, s);
  if (Status s = WriteCrl(dir, *ca); !s.ok()) return Fail(err, s);
  std::remove((base + ".crt").c_str());
  std::remove((base + ".key").c_str());
  out << "revoked " << host << " (" << *fp << "); " << dir
      << "/crl.pem updated: send SIGHUP to the collector\n";
  return 0;
}

}  // namespace

int RunPki(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  for (const auto& a : args) {
    if (a == "-h" || a == "--help") {
      out << kUsage;
      return 0;
    }
  }
  ConfigMap c;
  std::vector<std::string> pos;
  Status s = ApplyFlags(args, {"dir", "server_name", "days", "renew"}, {"renew"}, &c, &pos);
  if (!s.ok() || pos.empty()) {
    err << "tidemarkctl pki: " << EscapeControlBounded(s.ok() ? "no command" : s.message(), 512)
        << "\n"
        << kUsage;
    return 2;
  }
  std::string dir = GetString(c, "dir", "");
  if (dir.empty()) {
    err << "tidemarkctl pki: --dir DIR is required\n";
    return 2;
  }
  const std::string& cmd = pos[0];
  if (cmd == "init" && pos.size() == 1) return Init(dir, c, out, err);
  if ((cmd == "issue" || cmd == "revoke") && pos.size() == 2) {
    if (!protocol::IsValidHostId(pos[1])) {
      err << "tidemarkctl pki: '" << EscapeControlBounded(pos[1], 64)
          << "' is not a valid host id (1 to 253 of letters, digits, '.', '-', '_'; not starting "
             "with '.' or '-'; no '..')\n";
      return 2;
    }
    return cmd == "issue" ? IssueAgent(dir, pos[1], c, out, err) : Revoke(dir, pos[1], out, err);
  }
  err << "tidemarkctl pki: unknown command or wrong arguments\n" << kUsage;
  return 2;
}

}  // namespace tidemark::ctl
