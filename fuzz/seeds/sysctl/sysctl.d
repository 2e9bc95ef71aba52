# /etc/sysctl.d/99-sysctl.conf
net.ipv4.ip_forward = 1
; comment
kernel/yama/ptrace_scope=2
-net.ipv6.conf.all.disable_ipv6 = 1
net.ipv4.conf.*.rp_filter = 2
-net.ipv4.conf.lo.rp_filter
net.ipv4.conf.eth0/1.forwarding = 0
fs.protected_symlinks=1
--FILE--
kernel.kptr_restrict = 1
net.ipv4.conf.[ae]*.accept_redirects = 0
--FILE--
vm.swappiness=10
