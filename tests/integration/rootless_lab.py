"""Rootless podman: an ordinary user's podman, confined to a network namespace the test
creates (the rootful labs, and what they share with this one: containers_lab.py).

    with RootlessLab() as lab:                # user nwrl<pid>, namespace nwrl<pid>
        lab.run("web", ports=["8080:80"])     # busybox httpd on [::]:80 in the container
        lab.connect_from_client(lab.ha, 8080) # the truth: a real HTTP GET, True/False
        lab.netwhy("port", "8080", "-j")      # $NETWHY run (as root) inside NS

Topology:

    client  eth0 10.78.0.2/24 fd78::2/64 ---- eth0 10.78.0.1/24 fd78::1/64  NS
    NS: podman's pause process, slirp4netns and conmon of each container; rootlessport's
        listening sockets (the published ports) are in NS, its main thread in the container's
        namespace; each container has a namespace of its own behind slirp4netns (10.0.2.100)

What it takes on Debian 12 without systemd, with podman 4.3.1 (measured):

- A throwaway user nwrl<pid> (home and XDG_RUNTIME_DIR, 0700, in the lab's temporary
  directory) with subordinate uid and gid ranges in /etc/subuid and /etc/subgid (useradd
  gives them from login.defs; usermod --add-subuids where it does not). newuidmap/newgidmap
  come with uidmap.
- /dev/net/tun is 0600 here (no udev), and slirp4netns, running as the user, must open it.
  The host's /dev is not touched: every podman call runs in a private mount namespace
  (unshare -m) where a tmpfs in the lab's directory holds a 0666 node of the tun device
  (c 10 200) bind-mounted over /dev/net/tun; then nsenter --net into NS, runuser to the
  user, a clean environment (TMPDIR in the lab's directory: podman's image copies go to
  /var/tmp/storage<N> otherwise, and stay there when an import is cut short). podman's pause process (the user's user and mount
  namespaces) is started from that mount namespace, so slirp4netns, started from it,
  sees the node too.
- --storage-driver vfs (fuse-overlayfs can't work: /dev/fuse is 0600), --cgroup-manager
  cgroupfs (no systemd), --runtime runc (crun refuses hybrid cgroups), --events-backend file.
  pasta (passt) does not work with podman 4.3; ports below 1024 can't be published.
- The image: containers_lab's busybox-static rootfs, `podman import`ed by the user.

Everything is removed on exit, even after a failure: the containers (`podman rm -f -t 0
-a`), the pause process (by its pid: its mount namespace holds copies of every
/run/netns bind mount of the moment, NS's too, which would keep those namespaces alive),
then every process of the user's uid and subordinate uids (SIGKILL, bounded waits; PID 1
reaps slowly here, zombies are ignored), both namespaces, the temporary directory, the
user (userdel) and its lines in /etc/passwd, group, shadow, gshadow, subuid, subgid and
in their backups (/etc/passwd- ...: userdel leaves the user there), and podman's
/dev/shm/libpod_rootless_lock_<uid>.

`python3 rootless_lab.py [ROUNDS]` is a self-check: it sets up and tears down the lab
ROUNDS times (default 3), measures what the recipe says, and checks nothing is left
behind (user, id ranges, backups, processes of the uid, namespaces, mounts, directories).
"""

import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import nwtest  # noqa: E402
import containers_lab as cl  # noqa: E402

PODMAN = "/usr/bin/podman"
PAUSE_COMM = "podman pause"
GECOS = "netwhy rootless lab"       # marks the users this lab creates (with the creating pid)
ACCOUNT_FILES = ("passwd", "group", "shadow", "gshadow", "subuid", "subgid")
ETC_FILES = tuple(f"/etc/{f}{b}" for f in ACCOUNT_FILES for b in ("", "-"))
USER_STOP = 10                      # seconds the user's processes have to go after SIGKILL
ZOMBIE_WAIT = 10                    # seconds to wait for PID 1 to reap them before userdel -f
TUN = (10, 200)                     # /dev/net/tun's major and minor
PODMAN_OPTIONS = ["--cgroup-manager", "cgroupfs", "--runtime", "runc", "--events-backend", "file",
                  "--storage-driver", "vfs"]
NOISE = re.compile(r'^time=.*level=warning msg="\\"/\\" is not a shared mount.*$\n?', re.M)

log = cl.log


def missing_programs():
    """What the rootless lab needs that is not installed."""
    need = [PODMAN, "conmon", "runc", "slirp4netns", "newuidmap", "newgidmap", "/usr/lib/podman/rootlessport",
            "useradd", "usermod", "userdel", "runuser", "unshare", "nsenter", "mknod", "curl", "ss"]
    return [p for p in need if not cl.have(p)]


# ---------------------------------------------------------------- processes and accounts

def proc_uids(pid):
    """(real, effective, saved, fs) uids of PID, its state letter; None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            status = f.read()
    except OSError:
        return None
    uids = re.search(r"^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", status, re.M)
    state = re.search(r"^State:\s+(\S)", status, re.M)
    if not uids:
        return None
    return tuple(int(u) for u in uids.groups()), (state.group(1) if state else "?")


def uid_processes(uids, zombies=False):
    """{pid: comm} of processes any of whose uids is in UIDS (a range or a set); zombies left out
    unless ZOMBIES."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        got = proc_uids(d)
        if got is None or (got[1] == "Z" and not zombies):
            continue
        if any(u in uids for u in got[0]):
            try:
                with open(f"/proc/{d}/comm") as f:
                    out[int(d)] = f.read().strip()
            except OSError:
                pass
    return out


def account_lines(name):
    """{file: [lines]} of the account files and their backups whose first field is NAME."""
    found = {}
    for path in ETC_FILES:
        try:
            with open(path) as f:
                lines = [ln.rstrip("\n") for ln in f if ln.split(":", 1)[0] == name]
        except OSError:
            continue
        if lines:
            found[path] = lines
    return found


def scrub_account_lines(name):
    """Removes the lines whose first field is NAME from the account files and their backups
    (userdel leaves the user in /etc/passwd- and the others). Each file is rewritten beside
    itself and renamed over it, with its owner and mode. Returns the files changed."""
    changed = []
    for path in ETC_FILES:
        try:
            with open(path) as f:
                lines = f.readlines()
            st = os.stat(path)
        except OSError:
            continue
        keep = [ln for ln in lines if ln.split(":", 1)[0] != name]
        if len(keep) == len(lines):
            continue
        tmp = f"{path}.nwrl{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                f.writelines(keep)
            os.chown(tmp, st.st_uid, st.st_gid)
            os.chmod(tmp, st.st_mode & 0o7777)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        changed.append(path)
    return changed


def subid_range(name, path):
    """(start, count) of NAME's first range in /etc/subuid or /etc/subgid, or None."""
    try:
        with open(path) as f:
            for ln in f:
                parts = ln.strip().split(":")
                if len(parts) == 3 and parts[0] == name and parts[1].isdigit() and parts[2].isdigit():
                    return int(parts[1]), int(parts[2])
    except OSError:
        pass
    return None


def free_subid_start(count=65536):
    """A start past every range in /etc/subuid and /etc/subgid (for usermod --add-subuids)."""
    end = 100000
    for path in ("/etc/subuid", "/etc/subgid"):
        try:
            with open(path) as f:
                for ln in f:
                    parts = ln.strip().split(":")
                    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                        end = max(end, int(parts[1]) + int(parts[2]))
        except OSError:
            pass
    return end


def kill_and_wait(pids, timeout):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return cl.wait_until(lambda: not any(cl.pid_alive(p) for p in pids), timeout)


def lock_file(uid):
    return f"/dev/shm/libpod_rootless_lock_{uid}"


def remove_user(name, uid, spare=()):
    """Every process of UID (but those in SPARE), the user NAME (userdel; userdel -f when
    zombies still count as busy), its lines in the account files and their backups, podman's
    shm lock of the uid. Returns what could not be removed."""
    left = []
    sub = subid_range(name, "/etc/subuid")
    ids = set([uid]) if uid is not None else set()
    procs = uid_processes(ids) if ids else {}
    if sub:
        procs.update(uid_processes(range(sub[0], sub[0] + sub[1])))
    procs = {p: c for p, c in procs.items() if p not in spare}
    pause = [p for p, c in procs.items() if c == PAUSE_COMM]
    kill_and_wait(pause, USER_STOP)   # first: its mount namespace holds /run/netns mounts
    if not kill_and_wait(list(procs), USER_STOP):
        left += [f"pid {p} ({c}) of uid {uid}" for p, c in procs.items() if cl.pid_alive(p)]
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        pw = None
    if pw is not None:
        r = nwtest.sh("userdel", name, check=False)
        if r.returncode != 0:
            # zombies that PID 1 has not reaped yet still make the user "busy"
            cl.wait_until(lambda: not uid_processes(ids, zombies=True), ZOMBIE_WAIT, step=0.2)
            r = nwtest.sh("userdel", name, check=False)
            if r.returncode != 0:
                r = nwtest.sh("userdel", "-f", name, check=False)
        if r.returncode != 0:
            left.append(f"user {name}: userdel: {r.stderr.strip()}")
    scrub_account_lines(name)
    left += [f"{path}: {lines}" for path, lines in account_lines(name).items()]
    if uid is not None:
        lf = lock_file(uid)
        try:
            if os.lstat(lf).st_uid == uid:
                os.unlink(lf)
        except OSError:
            pass
    return left


def read_files(paths):
    out = {}
    for p in paths:
        try:
            with open(p) as f:
                out[p] = f.read()
        except OSError:
            out[p] = None
    return out


def restore_backups(before, name):
    """The backups (/etc/passwd- ...) as BEFORE had them, where the file they back up is as
    BEFORE had it too (no one else changed the accounts meanwhile) and the old backup did not
    name NAME: shadow's tools rewrote them while adding and removing the lab's user."""
    now = read_files(before)
    for f in ACCOUNT_FILES:
        path, backup = f"/etc/{f}", f"/etc/{f}-"
        old = before.get(backup)
        if old is None or now.get(path) != before.get(path) or now.get(backup) == old:
            continue
        if any(ln.split(":", 1)[0] == name for ln in old.splitlines()):
            continue
        st = os.stat(backup)
        tmp = f"{backup}.nwrl{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(old)
            os.chown(tmp, st.st_uid, st.st_gid)
            os.chmod(tmp, st.st_mode & 0o7777)
            os.replace(tmp, backup)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def reap_stale_users():
    """Users an earlier run of this lab created and did not remove (it was killed): GECOS
    '<GECOS> (pid N)' with N no longer running. They go with their processes, their lab's
    namespaces (named as the user, and with a c) and directory. Returns their names."""
    reaped = []
    for pw in pwd.getpwall():
        m = re.fullmatch(re.escape(GECOS) + r" \(pid (\d+)\)", pw.pw_gecos)
        if not m or not re.fullmatch(r"nwrl\d+", pw.pw_name) or cl.pid_alive(int(m.group(1))):
            continue
        log(f"removing user {pw.pw_name} (uid {pw.pw_uid}) left by an earlier run (pid {m.group(1)} is gone)")
        left = remove_user(pw.pw_name, pw.pw_uid)
        for ns in (pw.pw_name, f"{pw.pw_name}c"):   # the lab's namespaces have the user's name
            if os.path.lexists(f"/run/netns/{ns}"):
                pids = nwtest.sh("ip", "netns", "pids", ns, check=False).stdout.split()
                kill_and_wait([int(p) for p in pids if p.isdigit()], USER_STOP)
                nwtest.sh("ip", "netns", "del", ns, check=False)
        lab_dir = os.path.dirname(pw.pw_dir)     # <tmp>/nwrl<tag>.XXXX/home
        if (os.path.dirname(lab_dir) == tempfile.gettempdir()
                and re.fullmatch(r"nwrl\d+\..+", os.path.basename(lab_dir))):
            for mp in cl.mounts_under(lab_dir):
                subprocess.run(["umount", "-l", mp], capture_output=True)
            shutil.rmtree(lab_dir, ignore_errors=True)
        if left:
            log(f"could not remove all of it: {left}")
        reaped.append(pw.pw_name)
    return reaped


# ---------------------------------------------------------------- the lab

class RootlessLab(cl._Lab):
    """An ordinary user's podman, every call made as that user inside namespace NS (see the
    module's docstring); netwhy and the truth run as root, as in the rootful labs."""

    engine = "podman"
    SUBNET = 78

    def __init__(self, ns_name=None, subnet=None):
        tag = os.getpid() % 100000
        super().__init__(ns_name or f"nwrl{tag}", subnet)
        self.user = f"nwrl{tag}"
        self.uid = self.gid = None
        self.subuids = None          # (start, count)
        self.user_made = False
        self.home = self.xdg = self.tundir = None
        self.strays_found = []       # what setup found and removed (an earlier user's lock file)
        self.etc_before = {}         # the account files and their backups before useradd
        self.owned_before = []       # files of the new uid in /tmp, /var/tmp, /dev/shm, /run already
        self.foreign = set()         # processes that ran with the new uid before the lab did

    # -- podman as the user
    def argv(self, *args):
        script = (f"mount -t tmpfs -o size=16k,mode=0755 nwrl-tun {shlex.quote(self.tundir)} && "
                  f"mknod -m 666 {shlex.quote(self.tundir)}/tun c {TUN[0]} {TUN[1]} && "
                  f"mount --bind {shlex.quote(self.tundir)}/tun /dev/net/tun && "
                  f"exec nsenter --net=/run/netns/{shlex.quote(self.ns_name)} -- "
                  f"runuser -u {shlex.quote(self.user)} -- env -i HOME={shlex.quote(self.home)} "
                  f"XDG_RUNTIME_DIR={shlex.quote(self.xdg)} TMPDIR={shlex.quote(self.xdg)}/tmp "
                  f"PATH=/usr/sbin:/usr/bin:/sbin:/bin "
                  f"{PODMAN} {' '.join(PODMAN_OPTIONS)} \"$@\"")
        return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", *args]

    def cli(self, *args, check=True, timeout=cl.ENGINE_TIMEOUT):
        r = cl.run_bounded(self.argv(*args), timeout)
        r.stderr = NOISE.sub("", r.stderr or "")
        if check and r.returncode != 0:
            raise RuntimeError(f"podman (rootless) {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()[-500:]}")
        return r

    def run_options(self):
        return []

    def rm_options(self):
        return ["-t", "0"]

    # -- setup
    def _start(self):
        reap_stale_users()
        if account_lines(self.user):
            raise RuntimeError(f"user {self.user} exists already (or has lines in {sorted(account_lines(self.user))})")
        t0 = time.monotonic()
        self.etc_before = read_files(ETC_FILES)
        self.home, self.xdg, self.tundir = f"{self.dir}/home", f"{self.dir}/xdg", f"{self.dir}/tun"
        r = nwtest.sh("useradd", "-M", "-d", self.home, "-s", "/usr/sbin/nologin",
                      "-c", f"{GECOS} (pid {os.getpid()})", self.user, check=False)
        self.user_made = r.returncode == 0 or bool(account_lines(self.user))
        if r.returncode != 0:
            raise RuntimeError(f"useradd {self.user}: {r.stderr.strip()}")
        pw = pwd.getpwnam(self.user)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        for path, opt in (("/etc/subuid", "--add-subuids"), ("/etc/subgid", "--add-subgids")):
            if subid_range(self.user, path) is None:      # login.defs gave none (SUB_UID_COUNT 0)
                start = free_subid_start()
                nwtest.sh("usermod", opt, f"{start}-{start + 65535}", self.user)
        self.subuids = subid_range(self.user, "/etc/subuid")
        others = uid_processes({self.uid} | set(range(self.subuids[0], self.subuids[0] + self.subuids[1])))
        if others:
            self.foreign = set(others)      # not this lab's: never killed by its teardown
            raise RuntimeError(f"processes already run with uid {self.uid} or its new subordinate ids: {others}")
        lf = lock_file(self.uid)
        if os.path.lexists(lf):     # an earlier user of this uid left podman's lock: stale, and it would be ours
            os.unlink(lf)
            self.strays_found.append(lf)
            log(f"removed {lf}, left by an earlier user of uid {self.uid}")
        self.owned_before = owned_files(self.uid, self.subuids)
        if self.owned_before:
            log(f"files of uid {self.uid} (an earlier user's) are there already: {self.owned_before}")
        for d, owner, mode in ((self.home, self.uid, 0o700), (self.xdg, self.uid, 0o700),
                               (f"{self.xdg}/tmp", self.uid, 0o700), (self.tundir, 0, 0o755)):
            os.makedirs(d)
            os.chown(d, owner, self.gid if owner else 0)
            os.chmod(d, mode)
        self.timings["user"] = time.monotonic() - t0
        t0 = time.monotonic()
        tar = f"{self.dir}/rootfs.tar"
        shutil.copyfile(cl.image_tar(), tar)
        os.chmod(tar, 0o644)
        self.cli("import", "-q", tar, cl.IMAGE)
        self.timings["import"] = time.monotonic() - t0

    # -- what the lab started
    def user_pids(self, zombies=False):
        if self.uid is None:
            return {}
        ids = {self.uid}
        procs = uid_processes(ids, zombies)
        if self.subuids:
            procs.update(uid_processes(range(self.subuids[0], self.subuids[0] + self.subuids[1]), zombies))
        return {p: c for p, c in procs.items() if p not in self.foreign}

    def pause_pid(self):
        return next((p for p, c in self.user_pids().items() if c == PAUSE_COMM), None)

    def holders(self, port):
        """{pid: comm} of the processes ss -p shows holding PORT in NS."""
        out = nwtest.sh(*self.in_ns("ss", "-Hltnp", f"sport = :{port}"), check=False).stdout
        return {int(p): c for c, p in re.findall(r'\("([^"]+)",pid=(\d+),', out)}

    # -- teardown
    def __exit__(self, *exc):
        """The teardown is not cut short by the watchdog (SIGALRM) or meson's SIGTERM: a user
        left behind is worse than a late test. Each of its steps is bounded; a signal that came
        meanwhile is handled (the watchdog's Overtime raised) once it is done."""
        came = []
        old = {sig: signal.signal(sig, lambda signum, frame: came.append(signum))
               for sig in (signal.SIGALRM, signal.SIGTERM)}
        try:
            return super().__exit__(*exc)
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)
            if came and callable(old.get(came[0])):
                old[came[0]](came[0], None)
            elif came and old.get(came[0]) == signal.SIG_DFL:
                os.kill(os.getpid(), came[0])

    def _stop(self):
        if not self.user_made or not os.path.isdir(self.home or ""):
            return
        self.started_pids |= set(self.user_pids())
        self.cli("rm", "-a", "-f", "-t", "0", check=False, timeout=cl.TEARDOWN_TIMEOUT)

    def _final_cleanup(self):
        self.started_pids |= set(self.user_pids())
        if self.user_made:
            pause = self.pause_pid()
            if pause:
                kill_and_wait([pause], USER_STOP)
            kill_and_wait(list(self.user_pids()), USER_STOP)
        super()._final_cleanup()       # container pids, the namespaces, mounts under the directory, the directory
        if self.user_made:
            self.leftovers += remove_user(self.user, self.uid, spare=self.foreign)
            restore_backups(self.etc_before, self.user)
            self.leftovers += [f"pid {p} ({c})" for p, c in self.user_pids().items()]

    def residue(self):
        """What of this lab is still on the machine (the self-check's and the test's last check)."""
        found = []
        try:
            pwd.getpwnam(self.user)
            found.append(f"user {self.user}")
        except KeyError:
            pass
        found += [f"{path}: {lines}" for path, lines in account_lines(self.user).items()]
        if self.uid is not None:
            found += [f"pid {p} ({c}) of uid {self.uid}" for p, c in self.user_pids().items()]
            found += [p for p in (lock_file(self.uid),) if os.path.lexists(p)]
            found += [p for p in owned_files(self.uid, self.subuids) if p not in self.owned_before]
        found += [f"/run/netns/{n}" for n in (self.ns_name, self.client) if os.path.lexists(f"/run/netns/{n}")]
        if self.dir:
            found += [f"mount {m}" for m in cl.mounts_under(self.dir)]
            if os.path.lexists(self.dir):
                found.append(self.dir)
        return found


def owned_files(uid, subuids=None, dirs=("/tmp", "/var/tmp", "/dev/shm", "/run", "/run/user")):
    """Entries directly in DIRS owned by UID or its subordinate ids (podman's usual droppings)."""
    found = []
    for d in dirs:
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for n in names:
            try:
                owner = os.lstat(os.path.join(d, n)).st_uid
            except OSError:
                continue
            if owner == uid or (subuids and subuids[0] <= owner < subuids[0] + subuids[1]):
                found.append(os.path.join(d, n))
    return found


# ---------------------------------------------------------------- self-check

def selfcheck(rounds=3):
    """Sets up and tears down the lab ROUNDS times: web, webl and webin come up, the connects
    measure what the recipe says, rootlessport holds the ports, and nothing of the lab is left:
    user, its lines in /etc (backups too), processes of its uid, namespaces, mounts, directory,
    podman's lock file; the account files are as they were before."""
    nwtest.require_root()
    checks = nwtest.Checks()
    nwtest.watchdog("rootless_lab selfcheck", 30 * rounds + 30)
    miss = missing_programs()
    if miss:
        print(f"{'FAIL' if nwtest.IN_CI else 'SKIP'}: not installed: {', '.join(miss)}")
        sys.exit(1 if nwtest.IN_CI else nwtest.SKIP)
    reap_stale_users()
    for i in range(rounds):
        etc_before = read_files(ETC_FILES)
        netns_before = set(os.listdir("/run/netns"))
        t0 = time.monotonic()
        lab = RootlessLab()
        with lab:
            lab.run("web", ports=["8080:80"])
            lab.run("webl", ports=["127.0.0.1:8081:80"])
            lab.run("webin", ports=["8082:80"], cmd=["httpd", "-f", "-p", "127.0.0.1:80", "-h", "/www"])
            cl.wait_until(lambda: bool(lab.connect_from_client(lab.ha, 8080)), 5, step=0.1)
            m = {(who, addr, port): (lab.connect_from_client if who == "client" else lab.connect_from_host)(addr, port)
                 for port in (8080, 8081, 8082) for who, addr in (("client", lab.ha), ("host", "127.0.0.1"),
                                                                   ("host", lab.ha))}
            want = {(8080, "client"): True, (8080, "127.0.0.1"): True, (8080, "host_ha"): True,
                    (8081, "client"): False, (8081, "127.0.0.1"): True, (8081, "host_ha"): False,
                    (8082, "client"): False, (8082, "127.0.0.1"): False, (8082, "host_ha"): False}
            got = {(p, "client" if w == "client" else ("127.0.0.1" if a == "127.0.0.1" else "host_ha")): bool(v)
                   for (w, a, p), v in m.items()}
            checks.check(got == want, f"#{i}: connects as measured by the recipe",
                         str({f"{w}:{a}:{p}": str(v) for (w, a, p), v in m.items()}))
            holders = lab.holders(8080)
            checks.check(sorted(holders.values()) == ["rootlessport"], f"#{i}: rootlessport holds 8080 in NS",
                         str(holders))
            pause = lab.pause_pid()
            checks.check(pause is not None and cl.netns_inode(pause) == os.stat(f"/run/netns/{lab.ns_name}").st_ino,
                         f"#{i}: podman's pause process runs in NS", str(pause))
        took = time.monotonic() - t0
        etc_after = read_files(ETC_FILES)
        changed = [p for p in ETC_FILES if etc_before.get(p) != etc_after.get(p)]
        checks.check(not lab.leftovers, f"#{i}: teardown removed everything it meant to", str(lab.leftovers))
        checks.check(not lab.residue(), f"#{i}: nothing of the lab left (user, /etc lines, processes, "
                     "namespaces, mounts, directory, lock file)", str(lab.residue()))
        checks.check(not changed, f"#{i}: the account files and their backups are as before", str(changed))
        new_netns = set(os.listdir("/run/netns")) - netns_before
        checks.check(not new_netns, f"#{i}: no new entry in /run/netns", str(sorted(new_netns)))
        print(f"# #{i}: {took:.1f} s (" + ", ".join(f"{k} {v:.1f} s" for k, v in lab.timings.items()) + ")")
    checks.done()


if __name__ == "__main__":
    selfcheck(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
