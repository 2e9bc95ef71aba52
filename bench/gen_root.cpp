// gen_root: writes a synthetic host root for benchmarks: many users, groups, sudoers files with
// aliases of every kind, and authorized_keys files. Deterministic for a given size.
//
//   gen_root DIR [USERS GROUPS SUDOERS_FILES KEY_USERS]   (defaults 10000 2000 500 1000)
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>

namespace {

namespace fs = std::filesystem;

void Write(const fs::path& p, const std::string& text, unsigned mode) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  ::chmod(p.c_str(), mode);
}

std::string SshString(const std::string& s) {
  std::string out;
  uint32_t n = static_cast<uint32_t>(s.size());
  out += static_cast<char>(n >> 24);
  out += static_cast<char>(n >> 16);
  out += static_cast<char>(n >> 8);
  out += static_cast<char>(n);
  return out + s;
}

std::string Ed25519Line(std::mt19937_64& rng, const std::string& comment) {
  std::string key(32, '\0');
  for (auto& c : key) c = static_cast<char>(rng() & 0xff);
  std::string blob = SshString("ssh-ed25519") + SshString(key);
  std::string b64(4 * ((blob.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                          reinterpret_cast<const unsigned char*>(blob.data()),
                          static_cast<int>(blob.size()));
  b64.resize(static_cast<size_t>(n));
  return "ssh-ed25519 " + b64 + " " + comment + "\n";
}

// Users user0... (every tenth with nologin, a third locked), groups grp0... of five members.
void WriteAccounts(const fs::path& root, int users, int groups) {
  std::string passwd =
      "root:x:0:0:root:/root:/bin/bash\nsshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n";
  std::string shadow = "root:!:19000:0:99999:7:::\n";
  for (int i = 0; i < users; ++i) {
    std::string name = "user" + std::to_string(i);
    passwd += name + ":x:" + std::to_string(10000 + i) + ":" + std::to_string(10000 + i % groups) +
              ":User " + std::to_string(i) + ",,,:/home/" + name + ":" +
              (i % 10 == 0 ? "/usr/sbin/nologin" : "/bin/bash") + "\n";
    shadow += name + ":" + (i % 3 == 0 ? "!" : "*") + ":19000:0:99999:7:::\n";
  }
  std::string group = "root:x:0:\nsudo:x:27:user1,user2,user3\nadm:x:4:user5\n";
  std::string gshadow = "root:*::\nsudo:*::user1,user2,user3\nadm:*::user5\n";
  for (int g = 0; g < groups; ++g) {
    std::string members;
    for (int m = 0; m < 5; ++m) {
      members += (m ? "," : "") + ("user" + std::to_string((g * 7 + m * 13) % users));
    }
    group += "grp" + std::to_string(g) + ":x:" + std::to_string(10000 + g) + ":" + members + "\n";
    gshadow += "grp" + std::to_string(g) + ":!::" + members + "\n";
  }
  Write(root / "etc/passwd", passwd, 0644);
  Write(root / "etc/shadow", shadow, 0640);
  Write(root / "etc/group", group, 0644);
  Write(root / "etc/gshadow", gshadow, 0640);
  Write(root / "etc/hostname", "bench-large\n", 0644);
  Write(root / "etc/shells", "/bin/sh\n/bin/bash\n/usr/bin/bash\n", 0644);
}

// /etc/sudoers and `files` vendor drop-ins, each with its aliases, Defaults and grants.
void WriteSudoers(const fs::path& root, int files, int users, int groups) {
  Write(root / "etc/sudoers",
        "Defaults\tenv_reset\nDefaults\tsecure_path=\"/usr/sbin:/usr/bin:/sbin:/bin\"\n"
        "root\tALL=(ALL:ALL) ALL\n%sudo\tALL=(ALL:ALL) ALL\n@includedir sudoers.d\n",
        0440);
  for (int f = 0; f < files; ++f) {
    std::string s = "# generated vendor file " + std::to_string(f) + "\n";
    std::string n = std::to_string(f);
    s += "User_Alias VENDOR" + n + " = user" + std::to_string(f % users) + ", user" +
         std::to_string((f + 1) % users) + ", %grp" + std::to_string(f % groups) + "\n";
    s += "Runas_Alias RUN" + n + " = root, user" + std::to_string((f + 2) % users) + "\n";
    s += "Host_Alias HOSTS" + n + " = web" + n + ", 10.0." + std::to_string(f % 256) + ".0/24\n";
    s += "Cmnd_Alias CMDS" + n + " = /usr/bin/systemctl restart app" + n +
         ", /usr/bin/journalctl -u app" + n + ", !/usr/bin/su\n";
    s += "Defaults:VENDOR" + n + " !authenticate\n";
    s += "VENDOR" + n + " HOSTS" + n + " = (RUN" + n + ") NOPASSWD: CMDS" + n +
         ", PASSWD: /usr/bin/apt-get update : ALL = (root) /usr/bin/id\n";
    s += "user" + std::to_string((f * 3) % users) +
         " ALL = (ALL) NOEXEC: /usr/bin/less /var/log/app" + n + "\n";
    char name[32];
    std::snprintf(name, sizeof(name), "vendor%04d", f);
    Write(root / "etc/sudoers.d" / name, s, 0440);
  }
}

// sshd: Debian 12's stock sshd_config (its settings; comments dropped) and 20 drop-ins that
// override each other, with Match blocks (bench/run.sh: tidemark-agent sshd vs sshd -T).
void WriteSshd(const fs::path& root) {
  Write(root / "etc/ssh/sshd_config",
        "Include /etc/ssh/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\nUsePAM yes\n"
        "X11Forwarding yes\nPrintMotd no\nAcceptEnv LANG LC_*\n"
        "Subsystem\tsftp\t/usr/lib/openssh/sftp-server\n",
        0644);
  for (int d = 0; d < 20; ++d) {
    std::string n = std::to_string(d);
    std::string s = "# drop-in " + n + "\nPasswordAuthentication " + (d % 2 ? "yes" : "no") +
                    "\nMaxAuthTries " + std::to_string(3 + d) + "\nClientAliveInterval " +
                    std::to_string(60 * (d + 1)) + "\nAllowGroups grp" + n + " sudo\nAcceptEnv X" +
                    n + "\nMatch Group grp" + n +
                    ",!adm\n\tX11Forwarding no\n\tAllowTcpForwarding no\n"
                    "Match User user" +
                    n + " Address 10." + n + ".0.0/16\n\tPasswordAuthentication yes\n";
    char name[32];
    std::snprintf(name, sizeof(name), "%02d-dropin.conf", d);
    Write(root / "etc/ssh/sshd_config.d" / name, s, 0644);
  }
}

// root's key and three keys (one with options) for each of the first `key_users` users.
void WriteKeys(const fs::path& root, int key_users, int users, int groups) {
  std::mt19937_64 rng(42);
  Write(root / "root/.ssh/authorized_keys", Ed25519Line(rng, "root@bench"), 0600);
  ::chmod((root / "root").c_str(), 0700);
  ::chmod((root / "root/.ssh").c_str(), 0700);
  for (int i = 0; i < key_users && i < users; ++i) {
    std::string name = "user" + std::to_string(i);
    std::string keys;
    for (int k = 0; k < 3; ++k) {
      keys += (k == 1 ? "from=\"10.0.0.0/8\",no-pty " : "") +
              Ed25519Line(rng, name + "@laptop" + std::to_string(k));
    }
    fs::path home = root / "home" / name;
    Write(home / ".ssh/authorized_keys", keys, 0600);
    ::chmod((home / ".ssh").c_str(), 0700);
    ::chmod(home.c_str(), 0750);
    // Owned by the user, as on a real host (works when run as root; else left as is).
    uid_t uid = static_cast<uid_t>(10000 + i);
    gid_t gid = static_cast<gid_t>(10000 + i % groups);
    for (const fs::path& p : {home, home / ".ssh", home / ".ssh/authorized_keys"}) {
      if (::lchown(p.c_str(), uid, gid) != 0) break;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: gen_root DIR [USERS GROUPS SUDOERS_FILES KEY_USERS]\n";
    return 2;
  }
  fs::path root = argv[1];
  int users = argc > 2 ? std::atoi(argv[2]) : 10000;
  int groups = argc > 3 ? std::atoi(argv[3]) : 2000;
  int sudoers_files = argc > 4 ? std::atoi(argv[4]) : 500;
  int key_users = argc > 5 ? std::atoi(argv[5]) : 1000;
  WriteAccounts(root, users, groups);
  WriteSudoers(root, sudoers_files, users, groups);
  WriteSshd(root);
  WriteKeys(root, key_users, users, groups);
  std::cout << "wrote " << root.string() << ": " << users << " users, " << groups << " groups, "
            << sudoers_files << " sudoers files, " << key_users << " users with keys\n";
  return 0;
}
