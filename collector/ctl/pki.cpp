// `tidemarkctl pki init|issue|revoke` (commands.h): a small file-based CA for a collector and
// its agents (common/transport/pki.h). Enough for a pilot or the README's local audit; a
// production fleet may use its own PKI, as long as agent certificates carry clientAuth and
// CN = host id (docs/protocol.md).
//
// Layout of DIR (made 0700): ca.crt, ca.key, collector.crt, collector.key, crl.pem,
// agents/HOST.crt + HOST.key, revoked/HOST-SERIAL.crt (what the CRL lists). Keys are 0600.
// Every command can be run again: what exists is kept, and reported as kept.

#include "common/transport/pki.h"

#include <arpa/inet.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <sstream>

#include "collector/ctl/commands.h"
#include "common/read_file.h"

namespace tidemark::ctl {
namespace {

namespace fs = std::filesystem;

// The arguments of the pki commands: --dir of `pki`, and those of the command given.
struct PkiArgs {
  std::string dir;
  std::string server_names;  // comma-separated
  int days = 397;
  bool renew = false;
  std::string host;
};

bool Exists(const std::string& p) { return access(p.c_str(), F_OK) == 0; }

// A certificate, key or CRL of the CA directory (a CRL of many revocations stays far below).
StatusOr<std::string> ReadText(const std::string& path) {
  return ReadRegularFile(path, 16ull << 20);
}

Status MakeDir(const std::string& path) {
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return IoError(path, errno);
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

// The names a collector certificate must carry: the defaults and --server-name.
void ServerNames(const std::string& names, pki::CertRequest& req) {
  req.dns_names = {"localhost"};
  req.ip_addresses = {"127.0.0.1", "::1"};
  for (const auto& n : SplitList(names)) {
    (pki::IsIpAddress(n) ? req.ip_addresses : req.dns_names).push_back(n);
  }
}

// Checks --server-name: each name a DNS name (RFC 1123) or an IP address; names the first bad.
CLI::Validator ValidServerNames() {
  return CLI::Validator(
      [](std::string& names) -> std::string {
        for (const auto& n : SplitList(names)) {
          if (pki::IsIpAddress(n) || pki::IsValidDnsName(n)) continue;
          return "'" + Safe(n, 64) +
                 "' is neither a DNS name (RFC 1123: letters, digits, '-' in dot-separated "
                 "labels of 1 to 63) nor an IP address";
        }
        return "";
      },
      "");
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

// Makes DIR and its CA unless they exist; says which.
Status EnsureCa(const std::string& dir, std::ostream& out) {
  if (Status s = MakeDir(dir); !s.ok()) return s;
  if (Exists(dir + "/ca.key")) {
    out << "kept CA " << dir << "/ca.crt\n";
    return Status::Ok();
  }
  auto ca = pki::MakeCa("tidemark CA", 3650);
  if (!ca.ok()) return ca.status();
  if (Status s = WritePair(dir + "/ca", *ca); !s.ok()) return s;
  out << "made CA " << dir << "/ca.crt\n";
  return Status::Ok();
}

// Keeps the collector's certificate when it carries every name of `req` (an agent would
// otherwise fail later with "hostname mismatch", far from the cause); a certificate that
// lacks one is an error unless --renew.
int KeepCollectorCertificate(const std::string& dir, const pki::CertRequest& req, CtlContext& ctx) {
  auto cert = ReadText(dir + "/collector.crt");
  if (!cert.ok()) return Fail(ctx.err, cert.status());
  std::vector<std::string> missing = MissingNames(*cert, req);
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    return Fail(ctx.err, "the existing " + dir +
                             "/collector.crt does not carry the requested name(s) " + list +
                             "; it was kept unchanged. Run init again with --renew to issue a "
                             "new collector certificate (then restart the collector)");
  }
  ctx.out << "kept collector certificate " << dir << "/collector.crt\n";
  return 0;
}

int Init(const PkiArgs& a, CtlContext& ctx) {
  pki::CertRequest req;
  req.common_name = "tidemark-collector";
  req.role = pki::Role::kServer;
  req.days = a.days;
  ServerNames(a.server_names, req);
  if (Status s = EnsureCa(a.dir, ctx.out); !s.ok()) return Fail(ctx.err, s);
  auto ca = LoadCa(a.dir);
  if (!ca.ok()) return Fail(ctx.err, ca.status());
  if (Exists(a.dir + "/collector.key") && !a.renew) {
    if (int rc = KeepCollectorCertificate(a.dir, req, ctx); rc != 0) return rc;
  } else {
    auto pair = pki::Issue(*ca, req);
    if (!pair.ok()) return Fail(ctx.err, pair.status());
    if (Status s = WritePair(a.dir + "/collector", *pair); !s.ok()) return Fail(ctx.err, s);
    ctx.out << (a.renew ? "renewed" : "made") << " collector certificate " << a.dir
            << "/collector.crt\n";
  }
  if (!Exists(a.dir + "/crl.pem")) {
    if (Status s = WriteCrl(a.dir, *ca); !s.ok()) return Fail(ctx.err, s);
    ctx.out << "made CRL " << a.dir << "/crl.pem\n";
  }
  return 0;
}

int IssueAgent(const PkiArgs& a, CtlContext& ctx) {
  auto made = IssueAgentCertificate(a.dir, a.host, a.days, a.renew);
  if (!made.ok()) return Fail(ctx.err, made.status());
  const std::string crt = a.dir + "/agents/" + a.host + ".crt";
  if (*made) {
    ctx.out << "made agent certificate " << crt << " (CN " << a.host << ")\n";
  } else {
    ctx.out << "kept agent certificate " << crt << "\n";
  }
  return 0;
}

int Revoke(const PkiArgs& a, CtlContext& ctx) {
  auto ca = LoadCa(a.dir);
  if (!ca.ok()) return Fail(ctx.err, ca.status());
  std::string base = a.dir + "/agents/" + a.host;
  auto cert = ReadText(base + ".crt");
  if (!cert.ok()) return Fail(ctx.err, cert.status());
  auto fp = pki::Fingerprint(*cert);
  if (!fp.ok()) return Fail(ctx.err, fp.status());
  if (Status s = MakeDir(a.dir + "/revoked"); !s.ok()) return Fail(ctx.err, s);
  std::string kept = a.dir + "/revoked/" + a.host + "-" + fp->substr(7, 16) + ".crt";
  if (Status s = pki::WritePem(kept, *cert, 0644); !s.ok()) return Fail(ctx.err, s);
  if (Status s = WriteCrl(a.dir, *ca); !s.ok()) return Fail(ctx.err, s);
  std::remove((base + ".crt").c_str());
  std::remove((base + ".key").c_str());
  ctx.out << "revoked " << a.host << " (" << *fp << "); " << a.dir
          << "/crl.pem updated: send SIGHUP to the collector\n";
  return 0;
}

// --days N, of init and issue.
void AddValidity(CLI::App& command, PkiArgs& a) {
  command.add_option("--days", a.days, "validity in days, 1 to 3650")
      ->check(CLI::Range(1, 3650))
      ->type_name("N")
      ->capture_default_str();
}

// HOST, of issue and revoke.
void AddHost(CLI::App& command, PkiArgs& a) {
  command.add_option("HOST", a.host, "the agent's host id")->required()->check(HostId());
}

using PkiCommand = int (*)(const PkiArgs&, CtlContext&);

// Adds the pki command `name` (with --dir) whose callback runs `run`.
CLI::App* Add(CLI::App& group, CtlContext& ctx, const std::shared_ptr<PkiArgs>& args,
              const std::string& name, const std::string& description, const std::string& footer,
              PkiCommand run) {
  CLI::App* command = AddCommand(group, "Commands", ctx, args, name, description, footer, run);
  command->add_option("--dir", args->dir, "the CA's directory")->required()->type_name("DIR");
  return command;
}

}  // namespace

StatusOr<bool> IssueAgentCertificate(const std::string& dir, const std::string& host, int days,
                                     bool renew) {
  auto ca = LoadCa(dir);
  if (!ca.ok()) return ca.status();
  if (Status s = MakeDir(dir + "/agents"); !s.ok()) return s;
  std::string base = dir + "/agents/" + host;
  if (Exists(base + ".key") && !renew) return false;
  pki::CertRequest req;
  req.common_name = host;
  req.role = pki::Role::kClient;
  req.days = days;
  auto pair = pki::Issue(*ca, req);
  if (!pair.ok()) return pair.status();
  if (Status s = WritePair(base, *pair); !s.ok()) return s;
  return true;
}

void AddPkiCommands(CLI::App& app, CtlContext& ctx) {
  CLI::App* group = app.add_subcommand("pki", "a file-based CA for the collector and its agents");
  group->group("Certificates");
  group->require_subcommand(1);
  group->footer(
      "A file-based CA for the collector and its agents (ECDSA P-256, SHA-256). Keys are\n"
      "written mode 0600, DIR is made mode 0700. Running a command again keeps what exists.\n"
      "tidemarkctl pki COMMAND --help shows the help of COMMAND.\n"
      "Exit codes: 0 done, 1 failure (including a kept certificate without a requested\n"
      "name), 2 usage (unknown option, a bad --days, HOST or NAME).\n");
  auto args = std::make_shared<PkiArgs>();

  CLI::App* init =
      Add(*group, ctx, args, "init", "make the CA and the collector's certificate",
          "Makes DIR/ca.{crt,key} (if absent) and the collector's DIR/collector.{crt,key} for\n"
          "localhost, 127.0.0.1, ::1 and NAMES (comma-separated DNS names per RFC 1123 or IP\n"
          "addresses) and an empty DIR/crl.pem. A kept collector certificate that lacks one of\n"
          "NAMES is an error unless --renew, which issues a new one.\n"
          "Exit codes: 0 done, 1 failure (including a kept certificate without a requested\n"
          "name), 2 usage.\n",
          Init);
  init->add_option("--server-name", args->server_names, "more names of the collector")
      ->check(ValidServerNames())
      ->type_name("NAMES");
  AddValidity(*init, *args);
  init->add_flag("--renew", args->renew, "issue a new collector certificate");

  CLI::App* issue =
      Add(*group, ctx, args, "issue", "make an agent's certificate",
          "Makes the agent certificate DIR/agents/HOST.{crt,key} (clientAuth, CN = HOST; HOST:\n"
          "1 to 253 of A-Z a-z 0-9 . - _); an existing one is kept unless --renew.\n"
          "Exit codes: 0 done (or kept), 1 failure (no CA in DIR), 2 usage.\n",
          IssueAgent);
  AddHost(*issue, *args);
  AddValidity(*issue, *args);
  issue->add_flag("--renew", args->renew, "issue a new certificate");

  CLI::App* revoke =
      Add(*group, ctx, args, "revoke", "revoke an agent's certificate",
          "Adds the host's current certificate to DIR/crl.pem (send SIGHUP to the collector to\n"
          "reload it) and removes DIR/agents/HOST.*.\n"
          "Exit codes: 0 done, 1 failure (no CA, no certificate of HOST), 2 usage.\n",
          Revoke);
  AddHost(*revoke, *args);
}

}  // namespace tidemark::ctl
