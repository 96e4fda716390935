#!/usr/bin/env bash
# e2e.systemd_install: the real install path of the Paddock .deb.
#
# Boots a minimal Debian bookworm with systemd as PID 1 in systemd-nspawn, installs the package
# with apt (offline), and checks what an admin would see: the unit enabled and active, its
# sd_notify status text, the journal, the REST API on the container's loopback (healthz, bearer
# token, 401), `paddock status` over the unix socket, reload, restart, stop, and a purge that
# leaves nothing behind.
#
# Environment:
#   PADDOCK_DEB_DIR     directory holding paddock_<version>_<arch>.deb (required; `make deb`)
#   PADDOCK_TEST_CACHE  where the container root file system is cached
#                       (default /var/cache/paddock-tests; the first run takes ~20-60 s more)
#   PADDOCK_E2E_KEEP=1  on failure, stop before the purge with the container still running, and
#                       print how to enter it
#
# Needs root, systemd-nspawn (systemd-container), mmdebstrap and the Debian mirror the host's
# apt uses (only when the root file system is not cached yet). Prints "SKIP: <reason>" and
# exits 0 when a prerequisite is missing.
set -euo pipefail

SUITE=bookworm
RECIPE=1 # bump to invalidate cached root file systems when the recipe below changes
CACHE=${PADDOCK_TEST_CACHE:-/var/cache/paddock-tests}
DEB_DIR=${PADDOCK_DEB_DIR:-}
CONTAINER_DEB_DIR=/mnt/paddock-deb
API=http://127.0.0.1:7070

t0=$EPOCHREALTIME
passed=0
failed=0
phase_name=""
phase_t0=""
timings=()
nspawn_pid=""
cpid=""
cgroups=()
work=""

# ---------------------------------------------------------------------------------------------
# Output helpers

ms_since() { # ms_since START -> integer milliseconds since the $EPOCHREALTIME value START
  local now=$EPOCHREALTIME
  echo $(((${now/./} - ${1/./}) / 1000))
}
fmt_ms() { printf '%d.%03d s' $(($1 / 1000)) $(($1 % 1000)); }
log() { printf 'e2e: %s\n' "$*"; }
skip() {
  echo "SKIP: $*"
  exit 0
}

phase() { # phase NAME: ends the current phase (recording its time) and starts NAME
  if [[ -n $phase_name ]]; then
    local ms
    ms=$(ms_since "$phase_t0")
    timings+=("$(printf '%-10s %s' "$phase_name" "$(fmt_ms "$ms")")")
    log "phase $phase_name done in $(fmt_ms "$ms")"
  fi
  phase_name=$1
  phase_t0=$EPOCHREALTIME
  [[ -n $phase_name ]] && log "== phase $phase_name"
  return 0
}

pass() {
  passed=$((passed + 1))
  log "  ok   $*"
}
fail() {
  failed=$((failed + 1))
  log "  FAIL $*"
}

# ---------------------------------------------------------------------------------------------
# Prerequisites

[[ $(id -u) -eq 0 ]] || skip "must run as root (boots a container with systemd-nspawn)"
command -v systemd-nspawn >/dev/null ||
  skip "systemd-nspawn not installed (package systemd-container)"
command -v mmdebstrap >/dev/null || skip "mmdebstrap not installed"
command -v nsenter >/dev/null || skip "nsenter not installed (package util-linux)"
die() { # a broken setup, before any check ran
  echo "e2e: $*" >&2
  log "0 passed, 1 failed"
  exit 1
}
[[ -n $DEB_DIR ]] || die "PADDOCK_DEB_DIR is not set (it names the directory of paddock_*.deb)"

shopt -s nullglob
debs=("$DEB_DIR"/paddock_*.deb)
shopt -u nullglob
((${#debs[@]} == 1)) ||
  die "expected exactly one paddock_*.deb in $DEB_DIR, found ${#debs[@]} (run: make deb)"
DEB=$(realpath "${debs[0]}")
DEB_NAME=$(basename "$DEB")
log "package: $DEB ($(dpkg-deb -f "$DEB" Version))"

# ---------------------------------------------------------------------------------------------
# Cleanup: stop the container, remove our cgroups and temporary files.

kill_cgroup_procs() { # kill everything left in our cgroups (the container's processes)
  local cg pid
  for cg in "${cgroups[@]}"; do
    [[ -d $cg ]] || continue
    if [[ -f $cg/cgroup.kill ]]; then
      echo 1 >"$cg/cgroup.kill" 2>/dev/null || true
    fi
    while read -r pid; do
      kill -KILL "$pid" 2>/dev/null || true
    done < <(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null)
  done
}

summary_printed=0
print_summary() { # the phase timings and the last line, "e2e: N passed, M failed"
  phase ""
  log "timings:"
  local t
  for t in "${timings[@]}"; do
    log "  $t"
  done
  log "  total      $(fmt_ms "$(ms_since "$t0")")"
  log "$passed passed, $failed failed"
  summary_printed=1
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  if ((rc != 0 && summary_printed == 0)); then
    log "aborted (exit status $rc) in phase '$phase_name'"
    ((failed == 0)) && failed=1
    abort_summary=1
  fi
  if [[ -n $nspawn_pid ]] && kill -0 "$nspawn_pid" 2>/dev/null; then
    if ((rc != 0)) && [[ ${PADDOCK_E2E_KEEP:-0} == 1 && -n $cpid ]]; then
      log "PADDOCK_E2E_KEEP=1: container left running; enter it with: nsenter -t $cpid -a bash"
      log "stop it with: kill $nspawn_pid (then remove cgroups ${cgroups[*]})"
      exit "$rc"
    fi
    # SIGTERM makes nspawn ask the container's systemd to power off.
    kill -TERM "$nspawn_pid" 2>/dev/null
    for _ in $(seq 100); do
      kill -0 "$nspawn_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$nspawn_pid" 2>/dev/null
  fi
  kill_cgroup_procs
  local cg
  for cg in "${cgroups[@]}"; do
    # Depth first: nspawn created payload/ and supervisor/ (and the container its own tree).
    [[ -d $cg ]] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
    [[ -d $cg ]] && log "warning: could not remove cgroup $cg"
  done
  # nspawn --volatile=overlay mounts a tmpfs on /tmp/nspawn-volatile-XXXXXX in its own mount
  # namespace and removes the directory when it exits; after a SIGKILL the empty directory stays.
  if [[ -n $work && -f $work/volatile-before ]]; then
    comm -13 "$work/volatile-before" <(ls -d /tmp/nspawn-volatile-* 2>/dev/null | sort) |
      xargs -r rmdir 2>/dev/null
  fi
  [[ -n $work ]] && rm -rf "$work"
  ((${abort_summary:-0})) && print_summary
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Work directories of earlier runs that were SIGKILLed (named after their pid, now gone).
for stale in /tmp/paddock-e2e.*; do
  [[ -d $stale ]] || continue
  stale_pid=${stale#/tmp/paddock-e2e.}
  stale_pid=${stale_pid%%.*}
  [[ $stale_pid =~ ^[0-9]+$ ]] && ! kill -0 "$stale_pid" 2>/dev/null && rm -rf "$stale"
done
work=$(mktemp -d "/tmp/paddock-e2e.$$.XXXXXX")
ls -d /tmp/nspawn-volatile-* 2>/dev/null | sort >"$work/volatile-before" || true

# ---------------------------------------------------------------------------------------------
# Phase 1: the root file system (cached).

phase rootfs

# Runtime dependencies of the package: "a (>= 1) | b, c:any" -> a c. They must be in the
# image: the container has no network, so apt can only install the .deb itself.
deps=$({ dpkg-deb -f "$DEB" Depends; dpkg-deb -f "$DEB" Pre-Depends; } | tr ',' '\n' |
  sed -e 's/|.*//' -e 's/(.*)//' -e 's/:any//' -e 's/[[:space:]]//g' | grep -v '^$' || true)
packages=$(printf '%s\n' systemd systemd-sysv dbus curl $deps | sort -u)
key=$(printf 'recipe=%s suite=%s variant=minbase\n%s\n' "$RECIPE" "$SUITE" "$packages" |
  sha256sum | cut -c1-16)
tarball="$CACHE/rootfs-$SUITE-$key.tar"
rootdir="$CACHE/rootfs-$SUITE-$key"
log "rootfs packages: $(echo $packages)"

mkdir -p "$CACHE"
exec {lockfd}>"$CACHE/.lock"
flock "$lockfd" # one builder at a time; concurrent runs wait, then find it cached
if [[ ! -f $tarball ]]; then
  # The Debian sources the host's apt uses, as one-line entries for mmdebstrap.
  mapfile -t mirrors < <(apt-get indextargets --no-release-info \
    --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 'Created-By: Packages' 2>/dev/null |
    awk -v s="$SUITE" '$3 == "main" && ($2 == s || $2 == s "-updates" || $2 == s "-security") {
      print "deb " $1 " " $2 " main" }' | sort -u)
  if ((${#mirrors[@]} == 0)); then
    mirrors=("deb http://deb.debian.org/debian $SUITE main")
  fi
  tmp_tarball="$CACHE/.rootfs-$SUITE-$key.tmp.tar" # mmdebstrap picks the format by extension
  rm -rf "$tmp_tarball"
  log "building $tarball with mmdebstrap (first run only) from: ${mirrors[*]}"
  mmdebstrap --variant=minbase --include="$(echo $packages | tr ' ' ',')" \
    --aptopt='Acquire::Retries "3"' "$SUITE" "$tmp_tarball" "${mirrors[@]}" \
    </dev/null >"$work/mmdebstrap.log" 2>&1 || {
    tail -n 40 "$work/mmdebstrap.log"
    rm -rf "$tmp_tarball"
    echo "e2e: mmdebstrap failed" >&2
    exit 1
  }
  mv "$tmp_tarball" "$tarball"
  rm -rf "$rootdir"
  log "cached $tarball ($(du -h "$tarball" | cut -f1))"
else
  log "cached: $tarball"
fi
if [[ ! -d $rootdir ]]; then
  rm -rf "$rootdir.tmp"
  mkdir -p "$rootdir.tmp"
  tar --numeric-owner --xattrs --xattrs-include='*' -C "$rootdir.tmp" -xpf "$tarball"
  mv "$rootdir.tmp" "$rootdir"
  log "extracted to $rootdir"
fi
# This run uses the image until it exits: hold a shared lock on it. Images built for other
# package lists are deleted unless another run is using them right now.
exec {imagelockfd}>"$rootdir.lock"
flock -s "$imagelockfd"
touch "$rootdir.lock"
for other in "$CACHE"/rootfs-"$SUITE"-*.lock; do
  [[ $other == "$rootdir.lock" ]] && continue
  exec {otherfd}>"$other"
  if flock -n -x "$otherfd"; then
    log "removing stale cached image ${other%.lock}"
    rm -rf "${other%.lock}" "${other%.lock}.tar" "$other"
  fi
  exec {otherfd}>&-
done
flock -u "$lockfd"

# ---------------------------------------------------------------------------------------------
# Phase 2: boot.

phase boot

# nspawn runs from a child cgroup of ours in each writable hierarchy systemd uses (hybrid
# hosts: the name=systemd v1 hierarchy and the cgroup2 mount at unified/; pure cgroup2 hosts:
# the root). --keep-unit then makes it use that cgroup instead of asking a (here absent) host
# systemd for a scope over D-Bus.
cg_name="paddock-e2e-$$"
# Cgroups left by an earlier run that was SIGKILLed (named after its pid, now gone).
for stale in /sys/fs/cgroup/{systemd,unified}/paddock-e2e-*; do
  [[ -d $stale ]] || continue
  kill -0 "${stale##*-}" 2>/dev/null && continue
  find "$stale" -depth -type d -exec rmdir {} + 2>/dev/null || true
done
for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
  [[ -d $h ]] && cgroups+=("$h/$cg_name")
done
if ((${#cgroups[@]} == 0)) && [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
  own=$(sed -n 's/^0:://p' /proc/self/cgroup)
  cgroups+=("/sys/fs/cgroup${own%/}/$cg_name")
fi
((${#cgroups[@]} > 0)) || skip "no writable systemd cgroup hierarchy under /sys/fs/cgroup"
for cg in "${cgroups[@]}"; do
  mkdir "$cg"
done

(
  for cg in "${cgroups[@]}"; do
    echo "$BASHPID" >"$cg/cgroup.procs"
  done
  # --pdeathsig: should this script be SIGKILLed (a ctest timeout), nspawn gets SIGTERM and
  # powers the container off instead of leaking it (not with PADDOCK_E2E_KEEP=1, which wants
  # the container to outlive the script).
  deathsig=(setpriv --pdeathsig TERM)
  [[ ${PADDOCK_E2E_KEEP:-0} == 1 ]] && deathsig=()
  exec "${deathsig[@]}" systemd-nspawn --quiet --boot --register=no --keep-unit --private-network \
    --volatile=overlay --link-journal=no --console=pipe --machine="$cg_name" \
    --directory="$rootdir" --bind-ro="$(dirname "$DEB"):$CONTAINER_DEB_DIR"
) </dev/null >"$work/console.log" 2>&1 &
nspawn_pid=$!

show_console() {
  log "--- last lines of the container console ---"
  tail -n 30 "$work/console.log" | sed 's/^/    /'
}

# The container's PID 1 is nspawn's child once it has exec'd systemd.
for _ in $(seq 300); do
  cpid=$(pgrep -P "$nspawn_pid" -x systemd || true)
  [[ -n $cpid ]] && break
  kill -0 "$nspawn_pid" 2>/dev/null || break
  sleep 0.05
done
if [[ -z $cpid ]]; then
  fail "container did not start"
  show_console
  exit 1
fi
log "container PID 1 is host pid $cpid (nspawn $nspawn_pid)"

# Run a shell command inside the container (all its namespaces, a clean environment).
in_ct() {
  timeout "${IN_CT_TIMEOUT:-60}" nsenter --target "$cpid" --all -- \
    env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive SYSTEMD_PAGER= SYSTEMD_COLORS=0 \
    bash -c "$1"
}

state=""
for _ in $(seq 120); do
  state=$(IN_CT_TIMEOUT=30 in_ct 'systemctl is-system-running --wait 2>/dev/null' || true)
  [[ $state == running || $state == degraded ]] && break
  kill -0 "$nspawn_pid" 2>/dev/null || break
  sleep 0.1
done
case $state in
  running) pass "systemd in the container is running" ;;
  degraded)
    pass "systemd in the container is up (degraded; failed units below are not Paddock's)"
    in_ct 'systemctl --failed --no-legend --plain' | sed 's/^/    /' || true
    ;;
  *)
    fail "container systemd did not finish booting (state: '${state:-none}')"
    show_console
    exit 1
    ;;
esac

# ---------------------------------------------------------------------------------------------
# Checks inside the container.

# check DESCRIPTION SHELL-COMMAND: pass when the command succeeds; on failure print its output.
check() {
  local desc=$1 out
  if out=$(in_ct "$2" 2>&1); then
    pass "$desc"
  else
    fail "$desc"
    [[ -n $out ]] && printf '%s\n' "$out" | tail -n 25 | sed 's/^/    | /'
  fi
  return 0
}

# expect DESCRIPTION EXPECTED SHELL-COMMAND: pass when the command prints exactly EXPECTED.
expect() {
  local desc=$1 want=$2 got
  got=$(in_ct "$3" 2>&1 || true)
  if [[ $got == "$want" ]]; then
    pass "$desc"
  else
    fail "$desc: expected '$want', got '$got'"
  fi
  return 0
}

diagnose() {
  log "--- diagnostics ---"
  in_ct 'systemctl status paddock --no-pager -l; journalctl -b -u paddock --no-pager -n 40' 2>&1 |
    sed 's/^/    /' || true
}

main_pid() { in_ct 'systemctl show -p MainPID --value paddock'; }

# Phase 3: install from the .deb, offline.
phase install
check "apt-get install $DEB_NAME (offline)" \
  "apt-get install -y -o Dpkg::Use-Pty=0 $CONTAINER_DEB_DIR/$DEB_NAME"
if ! in_ct 'dpkg-query -W -f="\${Status}" paddock 2>/dev/null |
             grep -qx "install ok installed"'; then
  fail "package paddock is not installed; stopping here"
  exit 1
fi
expect "group paddock exists" "paddock" 'getent group paddock | cut -d: -f1'
expect "/var/lib/paddock is 750 root:paddock" "750 root:paddock" \
  'stat -c "%a %U:%G" /var/lib/paddock'
expect "/etc/paddock/paddockd.toml is a conffile" "/etc/paddock/paddockd.toml" \
  'dpkg-query -W -f="\${Conffiles}" paddock | awk "{print \$1}"'
check "paddockd --check-config accepts the shipped config" \
  '/usr/sbin/paddockd --check-config --config /etc/paddock/paddockd.toml'

# Phase 4: the service as systemd runs it.
phase service
check "systemctl enable --now paddock" 'systemctl enable --now paddock'
expect "paddock.service is enabled" "enabled" 'systemctl is-enabled paddock'
expect "paddock.service is active" "active" 'systemctl is-active paddock'
if ! in_ct 'systemctl is-active -q paddock'; then
  diagnose
  fail "paddock.service is not running; stopping here"
  exit 1
fi
pid1=$(main_pid || true)
log "  MainPID $pid1"
status_text=$(in_ct 'systemctl show -p StatusText --value paddock' || true)
if [[ -n $status_text ]] &&
  in_ct 'systemctl status paddock --no-pager' | grep -qF "Status: \"$status_text\""; then
  pass "systemctl status shows the daemon's STATUS=: \"$status_text\""
else
  fail "systemctl status shows no STATUS= text from the daemon (StatusText='$status_text')"
fi
expect "daemon runs without no_new_privs (sandboxes may use setuid programs)" "0" \
  "awk '/^NoNewPrivs:/ {print \$2}' /proc/$pid1/status"
expect "daemon owns a delegated cgroup" "yes" 'systemctl show -p Delegate --value paddock'
# ProtectSystem=full: /usr and /etc read-only in the daemon's mount namespace, and (no
# no_new_privs) not nosuid either.
for path in /usr /etc; do
  expect "$path is read-only, not nosuid, for the daemon (ProtectSystem=full)" "ro suid" \
    "awk -v p=$path '\$5 == p { o = \$6 } END { split(o, a, \",\");
       s = \"suid\"; for (i in a) if (a[i] == \"nosuid\") s = \"nosuid\"; print a[1], s }' \
       /proc/$pid1/mountinfo"
done
expect "watchdog is armed (WatchdogSec=30s)" "30s" \
  'systemctl show -p WatchdogUSec --value paddock'
check "journal has systemd's start message" \
  'journalctl -b -u paddock --no-pager -o cat | grep -q "^Started "'
check "journal has the daemon's own start log (pid $pid1)" \
  "for i in \$(seq 50); do journalctl -b _PID=$pid1 --no-pager -o cat | grep -q . && exit 0;
   sleep 0.1; done; exit 1"
check "the daemon logs natively to the journal (structured fields, _TRANSPORT=journal)" \
  "journalctl -b _PID=$pid1 _TRANSPORT=journal --no-pager -o cat | grep -q ."
in_ct "journalctl -b _PID=$pid1 --no-pager -o cat | head -n 5" 2>/dev/null |
  sed 's/^/    > /' || true

# Phase 5: the API on the container's loopback and the unix socket.
phase api
check "GET /healthz without a token: 200 {\"status\":\"ok\"}" \
  "curl -fsS --max-time 5 $API/healthz | grep -Eq '\"status\"[[:space:]]*:[[:space:]]*\"ok\"'"
expect "admin token is 600 root:root" "600 root:root" \
  'stat -c "%a %U:%G" /var/lib/paddock/admin.token'
check "GET /api/v1/status with the admin token: 200" \
  "curl -fsS --max-time 5 -o /dev/null \
     -H \"Authorization: Bearer \$(cat /var/lib/paddock/admin.token)\" $API/api/v1/status"
expect "GET /api/v1/status without a token: 401" "401" \
  "curl -sS --max-time 5 -o /dev/null -w '%{http_code}' $API/api/v1/status"
expect "GET /api/v1/status with a wrong token: 401" "401" \
  "curl -sS --max-time 5 -o /dev/null -w '%{http_code}' \
     -H 'Authorization: Bearer not-the-token' $API/api/v1/status"
expect "socket is 660 root:paddock" "socket 660 root:paddock" \
  'stat -c "%F %a %U:%G" /var/lib/paddock/paddockd.sock'
check "paddock status (root, over the unix socket)" 'paddock status'
in_ct 'paddock status' 2>/dev/null | head -n 8 | sed 's/^/    > /' || true
check "paddock status as a member of group paddock" \
  'useradd --create-home --groups paddock e2e-member && runuser -u e2e-member -- paddock status'
check "paddock status as a non-member fails" \
  'useradd --create-home e2e-outsider && ! runuser -u e2e-outsider -- paddock status'

# Phase 6: reload, restart, stop.
phase lifecycle
daemon_lines() { in_ct "journalctl -b _PID=$pid1 --no-pager -o cat | wc -l" || echo 0; }
lines_before=$(daemon_lines)
check "systemctl reload paddock" 'systemctl reload paddock'
expect "active after reload" "active" 'systemctl is-active paddock'
expect "same MainPID after reload" "$pid1" 'systemctl show -p MainPID --value paddock'
check "journal shows systemd's Reloaded message" \
  'journalctl -b -u paddock --no-pager -o cat | grep -q "^Reloaded "'
# The daemon logs its reload (RELOADING=1 ... READY=1 makes systemctl wait for it).
if (($(daemon_lines) > lines_before)); then
  pass "journal shows the daemon's reload log:"
  in_ct "journalctl -b _PID=$pid1 --no-pager -o cat | tail -n +$((lines_before + 1))" |
    sed 's/^/    > /' || true
else
  fail "the daemon logged nothing for the reload"
fi
in_ct 'systemctl show -p StatusText --value paddock' | sed 's/^/    status: /' || true

check "systemctl restart paddock" 'systemctl restart paddock'
expect "active after restart" "active" 'systemctl is-active paddock'
pid2=$(main_pid || true)
if [[ -n $pid2 && $pid2 != 0 && $pid2 != "$pid1" ]]; then
  pass "new MainPID after restart ($pid1 -> $pid2)"
else
  fail "MainPID after restart is '$pid2' (was $pid1)"
fi
check "API answers after restart" "curl -fsS --max-time 5 -o /dev/null $API/healthz"

check "systemctl stop paddock" 'systemctl stop paddock'
expect "inactive after stop" "inactive" 'systemctl is-active paddock || true'
expect "clean exit on SIGTERM (Result, ExecMainCode, ExecMainStatus)" "success 1 0" \
  'echo $(systemctl show -p Result --value paddock) \
        $(systemctl show -p ExecMainCode --value paddock) \
        $(systemctl show -p ExecMainStatus --value paddock)'
((failed == 0)) || diagnose

# With PADDOCK_E2E_KEEP=1, stop at the first phase boundary after a failure, container running.
keep_on_failure() {
  if ((failed > 0)) && [[ ${PADDOCK_E2E_KEEP:-0} == 1 ]]; then
    print_summary
    exit 1
  fi
  return 0
}
keep_on_failure

# Phase 7: purge.
phase purge
check "apt-get purge paddock" 'apt-get purge -y -o Dpkg::Use-Pty=0 paddock'
expect "package is gone" "not-installed" \
  'dpkg-query -W -f="\${db:Status-Status}" paddock 2>/dev/null || echo not-installed'
expect "/var/lib/paddock and /etc/paddock are gone" "" \
  'ls -d /var/lib/paddock /etc/paddock 2>/dev/null || true'
expect "group paddock is gone" "" 'getent group paddock || true'
expect "paddock.service is gone" "not-found" 'systemctl show -p LoadState --value paddock'
expect "no enablement symlinks left" "" \
  'find /etc/systemd/system -name "paddock*" 2>/dev/null || true'

keep_on_failure

# Phase 8: power off.
phase poweroff
in_ct 'systemctl --no-block poweroff' >/dev/null 2>&1 || true
for _ in $(seq 300); do
  kill -0 "$nspawn_pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$nspawn_pid" 2>/dev/null; then
  fail "container did not power off within 30 s"
else
  wait "$nspawn_pid" 2>/dev/null && rc=0 || rc=$?
  if ((rc == 0)); then
    pass "container powered off (nspawn exit 0)"
  else
    fail "nspawn exited with status $rc"
    show_console
  fi
  nspawn_pid=""
fi
print_summary
((failed == 0))
