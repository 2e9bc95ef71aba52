// tidemarkctl pki init|issue|revoke: see ctl_pki.h and the usage text below.
//
// Layout of DIR (made 0700): ca.crt, ca.key, collector.crt, collector.key, crl.pem,
// agents/HOST.crt + HOST.key, revoked/HOST-SERIAL.crt (what the CRL lists). Keys are 0600.
// Every command can be run again: what exists is kept, and reported as kept.
#include "collector/ctl_pki.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/config_file.h"
#include "common/transport/pki.h"
#include "common/transport/protocol.h"

namespace tidemark::ctl {
namespace {

namespace fs = std::filesystem;

constexpr const char* kUsage =
    "Usage: tidemarkctl pki COMMAND --dir DIR [OPTIONS]\n"
    "\n"
    "A file-based CA for the collector and its agents (ECDSA P-256, SHA-256):\n"
    "  init [--server-name NAMES] [--days N]\n"
    "        make DIR/ca.{crt,key} (if absent) and the collector's DIR/collector.{crt,key}\n"
    "        for localhost, 127.0.0.1, ::1 and NAMES (comma-separated DNS names or IPs)\n"
    "        and an empty DIR/crl.pem\n"
    "  issue HOST [--days N] [--renew]\n"
    "        make the agent certificate DIR/agents/HOST.{crt,key} (clientAuth, CN = HOST);\n"
    "        an existing one is kept unless --renew\n"
    "  revoke HOST\n"
    "        add the host's current certificate to DIR/crl.pem (send SIGHUP to the\n"
    "        collector to reload it) and remove DIR/agents/HOST.*\n"
    "\n"
    "Keys are written mode 0600, DIR is made mode 0700. Running a command again keeps what\n"
    "exists. Exit codes: 0 done, 1 failure, 2 usage.\n";

bool Exists(const std::string& p) { return access(p.c_str(), F_OK) == 0; }

StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(StatusCode::kIoError, path + ": cannot open: " + std::strerror(errno));
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
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

bool LooksLikeIp(const std::string& s) {
  return s.find(':') != std::string::npos ||
         s.find_first_not_of("0123456789.") == std::string::npos;
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
  auto days = GetInt(c, "days", 397, 1, 3650);
  if (!days.ok()) return Fail(err, days.status());
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
  if (!Exists(dir + "/collector.key")) {
    pki::CertRequest req;
    req.common_name = "tidemark-collector";
    req.role = pki::Role::kServer;
    req.days = static_cast<int>(*days);
    req.dns_names = {"localhost"};
    req.ip_addresses = {"127.0.0.1", "::1"};
    for (const auto& n : SplitList(GetString(c, "server_name", ""))) {
      (LooksLikeIp(n) ? req.ip_addresses : req.dns_names).push_back(n);
    }
    auto pair = pki::Issue(*ca, req);
    if (!pair.ok()) return Fail(err, pair.status());
    if (Status s = WritePair(dir + "/collector", *pair); !s.ok()) return Fail(err, s);
    out << "made collector certificate " << dir << "/collector.crt\n";
  } else {
    out << "kept collector certificate " << dir << "/collector.crt\n";
  }
  if (!Exists(dir + "/crl.pem")) {
    if (Status s = WriteCrl(dir, *ca); !s.ok()) return Fail(err, s);
    out << "made CRL " << dir << "/crl.pem\n";
  }
  return 0;
}

int IssueAgent(const std::string& dir, const std::string& host, const ConfigMap& c,
               std::ostream& out, std::ostream& err) {
  auto days = GetInt(c, "days", 397, 1, 3650);
  if (!days.ok()) return Fail(err, days.status());
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
  req.days = static_cast<int>(*days);
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
    err << "tidemarkctl pki: " << (s.ok() ? "no command" : s.message()) << "\n" << kUsage;
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
      err << "tidemarkctl pki: '" << pos[1].substr(0, 64)
          << "' is not a valid host id (letters, digits, '.', '-', '_')\n";
      return 2;
    }
    return cmd == "issue" ? IssueAgent(dir, pos[1], c, out, err) : Revoke(dir, pos[1], out, err);
  }
  err << "tidemarkctl pki: unknown command or wrong arguments\n" << kUsage;
  return 2;
}

}  // namespace tidemark::ctl
