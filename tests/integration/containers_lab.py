"""Real Docker and Podman engines, each confined to a network namespace the test
creates (the recipe this follows: ../shared/docs/containers-lab.md, beside the
repository).

    with DockerLab("nwdk123") as lab:          # dockerd in namespace nwdk123
        lab.run("web", ports=["8080:80"])     # busybox httpd on [::]:80 in the container
        lab.connect_from_client(lab.ha, 8080) # the truth: a real HTTP GET, True/False
        lab.netwhy("-j", "port", "8080")      # $NETWHY run inside nwdk123

Topology of one lab:

    client  eth0 10.77.0.2/24 fd77::2/64 ---- eth0 10.77.0.1/24 fd77::1/64  NS (the engine's)
                                                                            docker0 / podman0 -> containers

The image (nwtest:1) is built once per run from Debian's busybox-static: the
installed package's /bin/busybox when there is one, else `apt-get download`.
It holds /bin/busybox with a symlink per applet, /etc/passwd, /etc/group and
/www/index.html. No registry is needed.

Everything a lab starts is stopped on exit, even after a failure: containers
(`rm -f`, busybox as PID 1 ignores SIGTERM), the daemon (SIGTERM by its pid, a
bounded wait, then SIGKILL), every process left in its namespaces, mounts left
under its temporary directory, both namespaces, podman's /run/netns/netns-<uuid>
files of its containers, and the files the engines write outside their
directories, when this lab created them and no other engine of the kind runs.

`python3 containers_lab.py [ROUNDS]` is a self-check: it sets up and tears down
each lab ROUNDS times (default 3) and checks nothing is left behind.
"""

import atexit
import glob
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import nwtest  # noqa: E402

DOCKER = "/usr/bin/docker"     # a newer client may come first in PATH (the recipe)
PODMAN = "/usr/bin/podman"
IMAGE = "nwtest:1"
HTTPD = ["httpd", "-f", "-p", "80", "-h", "/www"]
DAEMON_START = 20              # seconds dockerd has to answer `docker version`
DAEMON_STOP = 15               # seconds dockerd has after SIGTERM, before SIGKILL
ENGINE_TIMEOUT = 60            # any one docker/podman command
TEARDOWN_TIMEOUT = 20          # any one docker/podman command while tearing down
NETWHY_TIMEOUT = 20            # any one netwhy run
PROBE_TIMEOUT = 3              # curl -m

# Process names an engine lab may start; the self-check looks for new ones left running.
ENGINE_COMMS = ("dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v2", "docker-proxy", "conmon",
                "podman", "netavark", "aardvark-dns", "httpd", "busybox", "runc")


def log(msg):
    print(f"# {msg}", flush=True)


def have(path_or_name):
    return os.path.exists(path_or_name) if os.sep in path_or_name else shutil.which(path_or_name) is not None


def missing_programs(engine):
    """The programs ENGINE's lab needs that are not installed."""
    need = {"docker": [DOCKER, "dockerd", "containerd", "runc", "docker-proxy"],
            "podman": [PODMAN, "conmon", "runc", "/usr/lib/podman/netavark"]}[engine]
    need = need + ["nsenter", "curl", "ss", "iptables"]
    return [p for p in need if not have(p)]


# ---------------------------------------------------------------- the image

_image = {"dir": None, "tar": None, "source": None}


def _busybox_binary(work):
    """/bin/busybox of the installed busybox-static package, else one downloaded with apt-get."""
    r = nwtest.sh("dpkg", "-L", "busybox-static", check=False)
    for line in r.stdout.splitlines():
        if line.endswith("/bin/busybox") and os.path.isfile(line):
            _image["source"] = f"installed busybox-static ({line})"
            return line
    dl = os.path.join(work, "deb")
    os.makedirs(dl)
    nwtest.sh("apt-get", "download", "busybox-static", cwd=dl, timeout=120)
    debs = glob.glob(os.path.join(dl, "busybox-static_*.deb"))
    if not debs:
        raise RuntimeError("apt-get download busybox-static left no .deb")
    nwtest.sh("dpkg-deb", "-x", debs[0], os.path.join(dl, "x"))
    _image["source"] = f"downloaded {os.path.basename(debs[0])}"
    return os.path.join(dl, "x", "bin", "busybox")


def image_tar():
    """rootfs.tar of the test image, built once per run (removed at exit)."""
    if _image["tar"]:
        return _image["tar"]
    work = tempfile.mkdtemp(prefix="nwimg.")
    _image["dir"] = work
    atexit.register(lambda: shutil.rmtree(work, ignore_errors=True))
    busybox = _busybox_binary(work)
    root = os.path.join(work, "root")
    for d in ("bin", "etc", "www", "tmp", "root", "proc", "sys", "dev"):
        os.makedirs(os.path.join(root, d))
    shutil.copy2(busybox, os.path.join(root, "bin", "busybox"))
    os.chmod(os.path.join(root, "bin", "busybox"), 0o755)
    applets = nwtest.sh(os.path.join(root, "bin", "busybox"), "--list").stdout.split()
    for a in applets:
        if a != "busybox" and "/" not in a:
            os.symlink("busybox", os.path.join(root, "bin", a))
    with open(os.path.join(root, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n")
    with open(os.path.join(root, "etc", "group"), "w") as f:
        f.write("root:x:0:\n")
    with open(os.path.join(root, "www", "index.html"), "w") as f:
        f.write("hello from netwhy's container test\n")
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    tar = os.path.join(work, "rootfs.tar")
    nwtest.sh("tar", "-C", root, "-cf", tar, ".", timeout=60)
    _image["tar"] = tar
    log(f"image: {_image['source']}, {len(applets)} applets, {os.path.getsize(tar) // 1024} KiB")
    return tar


# ---------------------------------------------------------------- small helpers

class Probe:
    """One measured connect: true when the HTTP GET got a 200. str() says what happened."""

    CURL = {7: "refused", 28: "timeout", 52: "empty reply", 56: "reset", 55: "send error", 35: "tls"}

    def __init__(self, target, rc, http):
        self.target, self.rc, self.http = target, rc, http
        self.ok = rc == 0 and http == "200"

    def __bool__(self):
        return self.ok

    def __str__(self):
        if self.ok:
            return "ok"
        if self.rc == 0:
            return f"http {self.http}"
        return self.CURL.get(self.rc, f"curl exit {self.rc}")

    __repr__ = __str__


def url(addr, port):
    return f"http://[{addr}]:{port}/" if ":" in addr else f"http://{addr}:{port}/"


def wait_until(cond, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while True:
        if cond():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)


def run_bounded(cmd, timeout, env=None):
    """Runs CMD in a session of its own, killed (the whole group) past TIMEOUT.
    Returns a CompletedProcess; returncode None when it was killed."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="surrogateescape",
                         start_new_session=True, env=env)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        return subprocess.CompletedProcess(cmd, None, out, err + f"\n(killed after {timeout} s)")
    except BaseException:   # the watchdog or SIGTERM: the child goes too
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()
        raise
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def netns_inode(pid):
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def engine_pids():
    """{pid: comm} of every live process whose name is an engine's (ENGINE_COMMS); zombies (an
    exited conmon or shim that init has not reaped yet) hold nothing and are left out."""
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            comm, state = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:][:1]
            if state != "Z" and (comm in ENGINE_COMMS or comm.startswith("containerd-shim")):
                out[int(d)] = comm
    return out


def mounts_under(path):
    """Mount points at or below PATH (deepest first), from /proc/self/mountinfo."""
    path = os.path.realpath(path)
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
            if mp == path or mp.startswith(path + "/"):
                points.append(mp)
    return sorted(set(points), key=len, reverse=True)


class Strays:
    """Paths an engine writes outside its own directories: remembered as absent before the
    lab starts; removed after it only if they appeared meanwhile and no other engine of the
    kind (a process named COMMS not started by this lab) may use them. Directories are only
    ever removed when empty (rmdir)."""

    def __init__(self, paths, comms):
        self.paths = paths
        self.comms = comms
        self.absent = [p for p in paths if not os.path.lexists(p)]

    def remove(self, own_pids=()):
        others = [pid for pid, comm in engine_pids().items() if comm in self.comms and pid not in own_pids]
        kept = []
        for p in self.absent:
            if not os.path.lexists(p):
                continue
            if others:
                kept.append(p)
                continue
            try:
                if os.path.isdir(p) and not os.path.islink(p):
                    os.rmdir(p)
                else:
                    os.unlink(p)
            except OSError:
                kept.append(p)
        return kept


# ---------------------------------------------------------------- the labs

class _Lab:
    """What both engines share: the namespaces, the veth, the truth, netwhy in NS, teardown."""

    engine = None
    SUBNET = 77

    def __init__(self, ns_name=None, subnet=None):
        tag = os.getpid() % 100000
        prefix = {"docker": "nwdk", "podman": "nwpm"}[self.engine]
        self.ns_name = ns_name or f"{prefix}{tag}"
        self.client = f"{self.ns_name}c"
        n = subnet or self.SUBNET
        self.ha, self.ca = f"10.{n}.0.1", f"10.{n}.0.2"           # the engine's namespace, the client
        self.ha6, self.ca6 = f"fd{n}::1", f"fd{n}::2"
        self.nss = nwtest.Namespaces()
        self.nss.names = {"ns": self.ns_name, "client": self.client}
        self.dir = None
        self.containers = {}        # name -> {"id", "pid", "netns"} as last seen running
        self.started_pids = set()   # every engine process seen while the lab ran
        self.leftovers = []         # what teardown could not remove (the self-check reports it)
        self.timings = {}

    # -- setup
    def __enter__(self):
        t0 = time.monotonic()
        taken = [n for n in (self.ns_name, self.client) if os.path.lexists(f"/run/netns/{n}")]
        if taken:   # someone else's: never touched, not even by the cleanup below
            raise RuntimeError(f"network namespace {', '.join(taken)} exists already")
        try:
            self.nss.__enter__()
            self.dir = tempfile.mkdtemp(prefix=f"{self.ns_name}.")
            os.chmod(self.dir, 0o711)
            for name in (self.ns_name, self.client):
                self.nss.ip(name, "link", "set", "lo", "up")
            self.nss.wire("ns", "client", "eth0", (f"{self.ha}/24", f"{self.ha6}/64"),
                          (f"{self.ca}/24", f"{self.ca6}/64"))
            self._start()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        self.timings["setup"] = time.monotonic() - t0
        return self

    def __exit__(self, *exc):
        t0 = time.monotonic()
        try:
            self._stop()
        finally:
            self._final_cleanup()
        self.timings["teardown"] = time.monotonic() - t0
        return False

    def _final_cleanup(self):
        """Whatever is still there: container processes, everything in the namespaces,
        mounts under the lab's directory, the namespaces, the directory."""
        self._note_engine_pids()
        for c in self.containers.values():
            pid = c.get("pid")
            if pid and pid_alive(pid) and netns_inode(pid) == c.get("netns"):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for pid in self._own_processes():
            self.started_pids.add(pid)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.nss.kill_all(self.ns_name)
        self.nss.kill_all(self.client)
        wait_until(lambda: not any(pid_alive(p) for p in self._lab_pids()), 5)
        if self.dir:
            for mp in mounts_under(self.dir):
                subprocess.run(["umount", "-l", mp], capture_output=True)
        self.nss.__exit__(None, None, None)
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            if os.path.exists(self.dir):
                self.leftovers.append(self.dir)
        left = [n for n in (self.ns_name, self.client) if os.path.exists(f"/run/netns/{n}")]
        self.leftovers += [f"/run/netns/{n}" for n in left]
        alive = [p for p in self._lab_pids() if pid_alive(p)]
        self.leftovers += [f"pid {p}" for p in alive]

    def _own_processes(self):
        """Live processes whose command line names the lab's directory (dockerd, containerd, shims,
        conmon, podman's cleanup): this lab's, whichever namespace they are in."""
        if not self.dir:
            return []
        return [pid for pid in engine_pids() if self.dir in _cmdline(pid) and pid_alive(pid)]

    def _lab_pids(self):
        return self.started_pids | {c["pid"] for c in self.containers.values() if c.get("pid")}

    def _note_engine_pids(self):
        """Engine processes in the lab's namespace (dockerd, containerd, shims, proxies, conmon)."""
        ino = None
        try:
            ino = os.stat(f"/run/netns/{self.ns_name}").st_ino
        except OSError:
            return
        for pid in engine_pids():
            if netns_inode(pid) == ino or (self.dir and self.dir in _cmdline(pid)):
                self.started_pids.add(pid)

    # -- in the namespace
    def in_ns(self, *cmd):
        return ["nsenter", f"--net=/run/netns/{self.ns_name}", "--", *cmd]

    def sh_ns(self, *cmd, check=True, timeout=30):
        return nwtest.sh(*self.in_ns(*cmd), check=check, timeout=timeout)

    def netwhy(self, *args, timeout=NETWHY_TIMEOUT):
        """$NETWHY ARGS inside the engine's namespace (nsenter --net). returncode None: killed past TIMEOUT."""
        return run_bounded(self.in_ns(nwtest.NETWHY, *args), timeout)

    # -- the truth
    def _curl(self, prefix, addr, port):
        cmd = [*prefix, "curl", "-s", "-g", "--noproxy", "*", "-o", "/dev/null", "-w", "%{http_code}",
               "-m", str(PROBE_TIMEOUT), url(addr, port)]
        r = run_bounded(cmd, PROBE_TIMEOUT + 5)
        return Probe(f"{addr}:{port}", r.returncode, r.stdout.strip())

    def curl_from_client(self, addr, port):
        """A real TCP connect and HTTP GET from the client namespace (another host)."""
        return self._curl(["ip", "netns", "exec", self.client], addr, port)

    connect_from_client = curl_from_client

    def connect_from_host(self, addr, port):
        """A real TCP connect and HTTP GET from the engine's namespace itself (this host)."""
        return self._curl(self.in_ns(), addr, port)

    def listening(self, port, pid=None):
        """ss -ltnH lines for PORT: in the engine's namespace, or in the netns of process PID."""
        prefix = ["nsenter", f"--net=/proc/{pid}/ns/net", "--"] if pid else self.in_ns()
        r = nwtest.sh(*prefix, "ss", "-Hltn", f"sport = :{port}", check=False)
        return r.stdout.splitlines()

    # -- containers
    def cli(self, *args, check=True, timeout=ENGINE_TIMEOUT):
        r = run_bounded(self.argv(*args), timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"{self.engine} {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()[-500:]}")
        return r

    def inspect(self, name, fmt):
        r = self.cli("inspect", "-f", fmt, name, check=False)
        return r.stdout.strip() if r.returncode == 0 else None

    def run(self, name, ports=(), cmd=None, extra=(), wait_port=None):
        """Runs a detached container NAME from nwtest:1 with `-p` for each of PORTS, EXTRA options
        before the image, CMD (default: httpd on port 80). Waits (bounded) until its server listens
        on WAIT_PORT (default: the -p of the command, else 80) in the container's namespace.
        Returns the container's full id."""
        cmd = list(cmd or HTTPD)
        argv = ["run", "-d", "--name", name, *self.run_options()]
        for p in ports:
            argv += ["-p", p]
        argv += [*extra, IMAGE, *cmd]
        cid = self.cli(*argv).stdout.strip().splitlines()[-1]
        self._seen(name, cid)
        if wait_port is None:
            spec = cmd[cmd.index("-p") + 1] if "-p" in cmd[:-1] else "80"
            wait_port = int(spec.rsplit(":", 1)[-1])
        pid = self.containers[name].get("pid")
        up = pid and wait_until(lambda: bool(self.listening(wait_port, pid)), 10)
        if not up:
            raise RuntimeError(f"container {name}'s server is not listening on {wait_port}: "
                               f"{self.cli('logs', name, check=False).stderr[-300:]}")
        return cid

    def _seen(self, name, cid=None):
        pid = self.inspect(name, "{{.State.Pid}}")
        pid = int(pid) if pid and pid.isdigit() and pid != "0" else None
        c = self.containers.setdefault(name, {})
        c.update({"id": cid or self.inspect(name, "{{.Id}}"), "pid": pid, "netns": netns_inode(pid) if pid else None})
        self._note_engine_pids()

    def id_of(self, name):
        return self.inspect(name, "{{.Id}}")

    def rm(self, name):
        if self.cli("rm", "-f", *self.rm_options(), name, check=False).returncode == 0:
            self.containers.pop(name, None)   # else teardown still kills its process

    def stop(self, name):
        """Stops NAME at once (busybox as PID 1 ignores SIGTERM: kill, not a 10 s stop)."""
        self.cli("kill", name)
        wait_until(lambda: self.inspect(name, "{{.State.Running}}") == "false", 10)

    def start(self, name):
        self.cli("start", name)
        self._seen(name)

    def recreate(self, name, ports=(), cmd=None, extra=()):
        self.rm(name)
        return self.run(name, ports=ports, cmd=cmd, extra=extra)

    def ps_names(self):
        r = self.cli("ps", "-a", "--format", "{{.Names}}", check=False, timeout=TEARDOWN_TIMEOUT)
        return r.stdout.split()


class DockerLab(_Lab):
    """dockerd confined to namespace NS (nsenter --net: `ip netns exec` remounts /sys, and then
    dockerd finds no devices cgroup), with its data, exec root, pidfile and socket in a
    temporary directory. userland_proxy=False starts it with --userland-proxy=false."""

    engine = "docker"

    def __init__(self, ns_name=None, userland_proxy=True, subnet=None):
        super().__init__(ns_name, subnet)
        self.userland_proxy = userland_proxy
        self.daemon = None
        self.strays = Strays(["/etc/docker/key.json", "/etc/docker", "/run/docker/plugins", "/run/docker",
                              "/run/containerd/s", "/run/containerd"],
                             ("dockerd", "containerd"))

    def argv(self, *args):
        return [DOCKER, "-H", f"unix://{self.dir}/docker.sock", *args]

    def run_options(self):
        return []

    def rm_options(self):
        return []

    def _start(self):
        d = self.dir
        cmd = ["dockerd", "--data-root", f"{d}/data", "--exec-root", f"{d}/exec", "--pidfile", f"{d}/docker.pid",
               "-H", f"unix://{d}/docker.sock", "--iptables=true"]
        if not self.userland_proxy:
            cmd.append("--userland-proxy=false")
        self.logfile = open(f"{d}/dockerd.log", "w")
        self.daemon = subprocess.Popen(self.in_ns(*cmd), stdout=self.logfile, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        self.started_pids.add(self.daemon.pid)    # nsenter execs dockerd: the same pid
        t0 = time.monotonic()
        up = wait_until(lambda: self.daemon.poll() is not None or
                        run_bounded(self.argv("version", "-f", "{{.Server.Version}}"), 5).returncode == 0,
                        DAEMON_START, step=0.1)
        if not up or self.daemon.poll() is not None:
            self.logfile.flush()
            with open(f"{d}/dockerd.log") as f:
                tail = f.read()[-1500:]
            raise RuntimeError(f"dockerd did not answer within {DAEMON_START} s (exit {self.daemon.poll()}): {tail}")
        self.timings["daemon"] = time.monotonic() - t0
        self.cli("import", image_tar(), IMAGE)
        self._note_engine_pids()

    def _stop(self):
        if self.daemon is None:
            return
        if self.daemon.poll() is None:
            self._note_engine_pids()
            names = self.ps_names()
            if names:
                self.cli("rm", "-f", *names, check=False, timeout=TEARDOWN_TIMEOUT)
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(timeout=DAEMON_STOP)
            except subprocess.TimeoutExpired:
                log(f"dockerd {self.daemon.pid} still runs {DAEMON_STOP} s after SIGTERM: SIGKILL")
                self.daemon.kill()
                self.daemon.wait(timeout=5)
        self.logfile.close()

    def _final_cleanup(self):
        super()._final_cleanup()
        self.leftovers += [f"{p} (another dockerd or containerd runs)" for p in
                           self.strays.remove(self.started_pids)]


class PodmanLab(_Lab):
    """Rootful podman with netavark, every call made inside namespace NS (no daemon), its
    storage, run root, tmpdir and network configuration in a temporary directory."""

    engine = "podman"

    def __init__(self, ns_name=None, subnet=None):
        super().__init__(ns_name, subnet)
        self.netns_files = set()   # /run/netns/netns-<uuid> of this lab's containers
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        self.nofile = hard if hard != resource.RLIM_INFINITY else 1048576
        self.strays = Strays(["/run/containers/networks/ipam.db", "/run/containers/networks", "/run/containers",
                              "/var/lib/containers/cache/blob-info-cache-v1.boltdb", "/var/lib/containers/cache",
                              "/var/lib/containers"],
                             ("podman", "conmon"))

    def argv(self, *args):
        p = self.dir
        return self.in_ns(PODMAN, "--root", f"{p}/root", "--runroot", f"{p}/run", "--tmpdir", f"{p}/tmp",
                          "--network-config-dir", f"{p}/netcfg", "--cgroup-manager", "cgroupfs",
                          "--events-backend", "file", "--storage-driver", "overlay", "--network-backend", "netavark",
                          "--runtime", "runc", *args)

    def run_options(self):
        # podman's default limits exceed the hard ones here (no CAP_SYS_RESOURCE): ask for what is allowed
        return ["--ulimit", f"nofile={self.nofile}:{self.nofile}", "--ulimit", "nproc=4096:4096"]

    def rm_options(self):
        return ["-t", "0"]

    def _start(self):
        for sub in ("root", "run", "tmp", "netcfg"):
            os.makedirs(f"{self.dir}/{sub}")
        t0 = time.monotonic()
        self.cli("import", "-q", image_tar(), IMAGE)
        self.timings["import"] = time.monotonic() - t0

    def _seen(self, name, cid=None):
        super()._seen(name, cid)
        key = self.inspect(name, "{{.NetworkSettings.SandboxKey}}")
        if key and key.startswith("/run/netns/netns-"):
            self.netns_files.add(key)

    def stop(self, name):
        self.cli("kill", name)
        wait_until(lambda: self.inspect(name, "{{.State.Running}}") == "false", 10)

    def _stop(self):
        if self.dir is None or not os.path.isdir(f"{self.dir}/root"):
            return
        self._note_engine_pids()
        self.cli("rm", "-a", "-f", "-t", "0", check=False, timeout=TEARDOWN_TIMEOUT)
        # conmon's exit command (`podman container cleanup`) may still run: a bounded wait for it
        wait_until(lambda: not self._own_processes(), 10)

    def _final_cleanup(self):
        super()._final_cleanup()
        for path in sorted(self.netns_files):
            if os.path.exists(path):
                subprocess.run(["umount", path], capture_output=True)
                try:
                    os.unlink(path)
                except OSError:
                    self.leftovers.append(path)
        self.leftovers += [f"{p} (another podman or conmon runs)" for p in self.strays.remove(self.started_pids)]


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


# ---------------------------------------------------------------- self-check

def _status(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return " ".join(ln.split(None, 1)[1].strip() for ln in f if ln.startswith(("State:", "PPid:")))
    except OSError:
        return "gone"


def _state():
    netns = set(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else set()
    return {"netns": netns, "pids": engine_pids(), "mounts": _mount_points()}


def _mount_points():
    with open("/proc/self/mountinfo") as f:
        return {line.split()[4] for line in f}


def selfcheck(rounds=3):
    """Sets up and tears down each lab ROUNDS times: web and webin come up, the client's and
    the host's connects measure what the recipe says, and nothing is left behind. `ip netns
    list`, the engines' processes (pgrep) and the mounts are compared before and after; what
    is new and the lab's (its pids, its directory in a command line or a mount point, its
    namespaces) fails the check; what is new and not the lab's (another engine running on the
    machine meanwhile) is only reported."""
    nwtest.require_root()
    checks = nwtest.Checks()
    nwtest.watchdog("containers_lab selfcheck", 60 * rounds + 60)
    for engine, cls in (("docker", DockerLab), ("podman", PodmanLab)):
        miss = missing_programs(engine)
        if miss:
            checks.check(not nwtest.IN_CI, f"{engine}: installed", f"missing {miss}")
            continue
        for i in range(rounds):
            before = _state()
            t0 = time.monotonic()
            lab = cls()
            with lab:
                lab.run("web", ports=["8080:80"])
                lab.run("webin", ports=["8082:80"], cmd=["httpd", "-f", "-p", "127.0.0.1:80", "-h", "/www"])
                c, h = lab.connect_from_client(lab.ha, 8080), lab.connect_from_host("127.0.0.1", 8080)
                c6 = lab.connect_from_client(lab.ha6, 8080)
                ci = lab.connect_from_client(lab.ha, 8082)
                checks.check(c and h and not ci, f"{engine} #{i}: client to web {c}, host to web {h}, "
                             f"client to webin {ci} (ok, ok, fails); client to [{lab.ha6}]:8080 {c6}")
                lab.stop("web")
                checks.check(not lab.connect_from_client(lab.ha, 8080), f"{engine} #{i}: web stopped, no connect")
                lab.start("web")
                checks.check(wait_until(lambda: bool(lab.connect_from_client(lab.ha, 8080)), 5),
                             f"{engine} #{i}: web started again, the client connects")
            took = time.monotonic() - t0
            after = _state()
            own_pids = lab._lab_pids()
            new_pids = {p: c for p, c in after["pids"].items() if p not in before["pids"]}
            ours = {p: c for p, c in new_pids.items() if p in own_pids or lab.dir in _cmdline(p)}
            own_paths = [lab.dir, f"/run/netns/{lab.ns_name}", f"/run/netns/{lab.client}",
                         *getattr(lab, "netns_files", ())]
            new_mounts = after["mounts"] - before["mounts"]
            our_mounts = {m for m in new_mounts if any(m == p or m.startswith(p + "/") for p in own_paths)}
            new_netns = after["netns"] - before["netns"]
            our_netns = {n for n in new_netns if f"/run/netns/{n}" in own_paths}
            checks.check(not lab.leftovers, f"{engine} #{i}: teardown removed everything it meant to",
                         str(lab.leftovers))
            checks.check(not ours, f"{engine} #{i}: no process of the lab left",
                         str({p: (c, _status(p), _cmdline(p)[:200]) for p, c in ours.items()}))
            checks.check(not our_netns, f"{engine} #{i}: no namespace of the lab left", str(our_netns))
            checks.check(not our_mounts, f"{engine} #{i}: no mount of the lab left", str(sorted(our_mounts)[:5]))
            others = {p: _cmdline(p)[:100] for p in new_pids if p not in ours}
            if others or new_netns - our_netns or new_mounts - our_mounts:
                print(f"# {engine} #{i}: new meanwhile, not this lab's (another engine on the machine): "
                      f"{len(others)} processes {list(others.values())[:3]}, namespaces "
                      f"{sorted(new_netns - our_netns)}, {len(new_mounts - our_mounts)} mounts")
            print(f"# {engine} #{i}: {took:.1f} s (" + ", ".join(f"{k} {v:.1f} s" for k, v in lab.timings.items())
                  + ")")
    checks.done()


if __name__ == "__main__":
    selfcheck(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
