#!/usr/bin/env python3
"""The shell completions in completions/: bash's function is run on typed words
(COMP_WORDS, COMP_CWORD, COMP_LINE, COMP_POINT set, COMPREPLY read), with
bash-completion loaded when installed. What it offers is compared with what
`netwhy --help` and `netwhy CMD --help` print, so a command, option or value
added to the CLI without its completion fails here. Namespace names, interface
names and listening ports are compared with what this test creates and with
`ip -j link`. zsh's completion is driven in a pseudo-terminal (zsh/zpty) and
fish's through `complete -C`, for the same lists; both are syntax-checked."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import nwtest  # noqa: E402

nwtest.require_root()
nwtest.watchdog("test_completions", 240)
checks = nwtest.Checks()

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMPLETIONS = os.path.join(ROOT, "completions")
BASH_FILE = os.path.join(COMPLETIONS, "netwhy.bash")
ZSH_FILE = os.path.join(COMPLETIONS, "_netwhy")
FISH_FILE = os.path.join(COMPLETIONS, "netwhy.fish")
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"
BASH = shutil.which("bash") or "/bin/bash"

# The built netwhy first on PATH: the completions call `netwhy`.
NETWHY = os.path.abspath(nwtest.NETWHY)
ENV = dict(os.environ, PATH=os.path.dirname(NETWHY) + os.pathsep + os.environ.get("PATH", ""))
ENV.pop("NO_COLOR", None)

BASH_DRIVER = r'''
[[ -f $BASH_COMPLETION_FILE ]] && . "$BASH_COMPLETION_FILE"
. "$1"
COMP_LINE=$2
COMP_POINT=${#COMP_LINE}
shift 2
COMP_WORDS=("$@")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_netwhy netwhy "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
'''


def bash_words(line):
    """COMP_WORDS as bash makes them: split at blanks, and ':' and '=' as words of their own."""
    words = []
    for blank_word in line.split():
        words += [w for w in re.split(r"([:=]+)", blank_word) if w]
    if not line or line[-1].isspace() or line[-1] in ":=":
        words.append("")
    return words


def complete_bash(line, prefix=(), env=None):
    """What bash's completion offers for `line` (the cursor at its end), as a list.
    prefix: a command the bash runs under (ip netns exec NS, setpriv ...)."""
    env = dict(env or ENV, BASH_COMPLETION_FILE=BASH_COMPLETION)
    r = subprocess.run([*prefix, BASH, "--norc", "--noprofile", "-c", BASH_DRIVER, "driver", BASH_FILE, line,
                        *bash_words(line)], capture_output=True, text=True, timeout=30, env=env)
    offered = [w for w in r.stdout.split("\n") if w != ""]
    checks.check(r.returncode == 0 and r.stderr == "", f"bash: completing {line!r} prints no error",
                 f"exit {r.returncode}, stderr {r.stderr.strip()!r}")
    bad = [w for w in offered if re.search(r"\s", w) or w.startswith("netwhy") or "rror" in w]
    checks.check(not bad, f"bash: nothing offered for {line!r} is a message", f"offered {bad}")
    return offered


def help_text(*args):
    r = nwtest.run(*args, "--help")
    if r.returncode != 0:
        raise RuntimeError(f"netwhy {' '.join(args)} --help failed: {r.stderr}")
    return r.stdout


def section(text, title):
    """The lines of one section of CLI11's help (up to the next blank line)."""
    lines = text.split("\n")
    start = lines.index(title + ":") + 1
    out = []
    for line in lines[start:]:
        if not line.strip():
            break
        out.append(line)
    return out


def options_of(text):
    """{option spelling: value set or None} from the Options section of --help."""
    found = {}
    for line in section(text, "Options"):
        m = re.match(r"\s{2}(-\S+)(?:\s+(\S+))?", line)
        if not m:
            continue
        values = re.search(r":\{([^}]*)\}", m.group(2) or "")
        for spelling in m.group(1).split(","):
            found[spelling] = values.group(1).split(",") if values else None
    return found


def commands_of(text):
    """{command: [short forms]} from the Subcommands section of netwhy --help."""
    found = {}
    for line in section(text, "Subcommands"):
        m = re.match(r"\s{2}(\S+(?:, \S+)*)\s{2,}", line)
        if m:
            names = m.group(1).split(", ")
            found[names[0]] = names[1:]
    return found


def ifnames(ns=None):
    cmd = ["ip", *(["-n", ns] if ns else []), "-j", "link"]
    return sorted(link["ifname"] for link in json.loads(nwtest.sh(*cmd).stdout))


def same(what, offered, want):
    checks.check(sorted(set(offered)) == sorted(set(want)), what,
                 f"offered {sorted(set(offered))}, want {sorted(set(want))}")


def has(what, offered, want):
    missing = sorted(set(want) - set(offered))
    checks.check(not missing, what, f"missing {missing} from {sorted(set(offered))}")


top_help = help_text()
COMMANDS = commands_of(top_help)
GLOBAL = options_of(top_help)
SUB = {cmd: options_of(help_text(cmd)) for cmd in COMMANDS}
checks.check(COMMANDS.keys() >= {"link", "addr", "route", "ports", "port", "snapshot"} and "--color" in GLOBAL,
             "netwhy --help lists the commands and options this test reads",
             f"commands {list(COMMANDS)}, options {list(GLOBAL)}")
NETNS_HELP = "\n".join(section(top_help, "Options"))


def bash_checks(ns, listener_port):
    print("# bash" + (" with bash-completion" if os.path.exists(BASH_COMPLETION) else " without bash-completion"))
    # The commands and options, against --help.
    same("bash: `netwhy ` offers the commands of netwhy --help", complete_bash("netwhy "), COMMANDS)
    same("bash: `netwhy -` offers every option of netwhy --help", complete_bash("netwhy -"), GLOBAL)
    for cmd, opts in SUB.items():
        same(f"bash: `netwhy {cmd} -` offers every option of netwhy {cmd} --help and the global ones",
             complete_bash(f"netwhy {cmd} -"), set(opts) | set(GLOBAL))
    for cmd, aliases in COMMANDS.items():
        for alias in aliases:
            offered = complete_bash(f"netwhy {alias}")
            checks.check(alias in offered or cmd in offered, f"bash: `netwhy {alias}` completes to {alias} or {cmd}",
                         f"offered {offered}")
            same(f"bash: after short form {alias}, the options are {cmd}'s",
                 complete_bash(f"netwhy {alias} -"), set(SUB[cmd]) | set(GLOBAL))
    same("bash: `netwhy addre` offers the short form address", complete_bash("netwhy addre"), ["address"])
    same("bash: `netwhy p` offers port and ports", complete_bash("netwhy p"), ["port", "ports"])

    # Every value set --help shows ({auto,always,never}).
    for cmd, opts in [("", GLOBAL)] + list(SUB.items()):
        for opt, values in opts.items():
            if values is None:
                continue
            words = f"netwhy {cmd} {opt} " if cmd else f"netwhy {opt} "
            same(f"bash: `{words.strip()} ` offers {','.join(values)}", complete_bash(words), values)
            same(f"bash: `{words.strip()}=` offers them too", complete_bash(words.rstrip() + "="), values)
    same("bash: `netwhy --color=a` offers auto, always", complete_bash("netwhy --color=a"), ["auto", "always"])

    # -n: namespace names, pid:, and the container prefixes netwhy --help names.
    prefixes = [p for p in ("pid:", "docker:", "podman:") if p in NETNS_HELP]
    checks.check("pid:" in prefixes, "netwhy --help names -n's pid: form", NETNS_HELP)
    offered = complete_bash("netwhy -n ")
    has(f"bash: `netwhy -n ` offers the namespace {ns['srv']} and {', '.join(prefixes)}", offered,
        [ns["srv"], *prefixes])
    same("bash: `netwhy --netns=` offers the same", complete_bash("netwhy --netns="), offered)
    same(f"bash: `netwhy -n {ns['srv'][:4]}` offers the namespaces so named",
         complete_bash(f"netwhy -n {ns['srv'][:4]}"),
         [n.split()[0] for n in nwtest.sh("ip", "netns", "list").stdout.splitlines()
          if n.startswith(ns["srv"][:4])])
    sleeper = ns.spawn("srv", "sleep", "120")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and os.readlink(f"/proc/{sleeper.pid}/ns/net") == os.readlink("/proc/self/ns/net"):
        time.sleep(0.05)  # until ip netns exec has entered the namespace
    # One pid for each namespace: its lowest.
    lowest = min(int(p) for p in nwtest.sh("ip", "netns", "pids", ns["srv"]).stdout.split())
    offered = complete_bash("netwhy -n pid:")
    has(f"bash: `netwhy -n pid:` offers pid {lowest}, the lowest in {ns['srv']}", offered, [str(lowest)])
    checks.check(str(sleeper.pid) not in offered or sleeper.pid == lowest,
                 "bash: `netwhy -n pid:` offers one pid a namespace", f"offered {offered}")

    # Interface names: no -n, this namespace; with -n, that one.
    here = ifnames()
    for words in ("netwhy link dev ", "netwhy addr show dev ", "netwhy l ", "netwhy a dev ", "netwhy route dev ",
                  "netwhy -j route show table main dev ", "netwhy r oif ", "netwhy link -j dev "):
        offered = complete_bash(words)
        want = here + (["show", "dev", "up"] if words.rstrip().split()[-1] == "l" else [])
        same(f"bash: `{words}` offers the interfaces of ip -j link", offered, want)
    same(f"bash: `netwhy -n {ns['srv']} addr dev ` offers the interfaces in {ns['srv']}",
         complete_bash(f"netwhy -n {ns['srv']} addr dev "), ifnames(ns["srv"]))
    same("bash: `netwhy link dev lo ` offers up", complete_bash("netwhy link dev lo "), ["up"])
    same("bash: `netwhy route ` offers show get table dev", complete_bash("netwhy route "),
         ["show", "get", "table", "dev"])
    has("bash: `netwhy route show table ` offers main, local, all", complete_bash("netwhy route show table "),
        ["main", "local", "all"])
    same("bash: `netwhy route get ` offers nothing (an address)", complete_bash("netwhy route get "), [])

    # Listening ports, in the namespace the listener runs in.
    port = str(listener_port)
    inside = ["ip", "netns", "exec", ns["srv"]]
    same(f"bash: in {ns['srv']}, `netwhy port ` offers the listening port {port}",
         complete_bash("netwhy port ", prefix=inside), [port])
    same(f"bash: in {ns['srv']}, `netwhy ports ` offers it", complete_bash("netwhy ports ", prefix=inside), [port])
    same(f"bash: in {ns['srv']}, `netwhy port --udp ` does not (TCP)",
         complete_bash("netwhy port --udp ", prefix=inside), [])
    same(f"bash: `netwhy -n {ns['srv']} port ` offers it from outside",
         complete_bash(f"netwhy -n {ns['srv']} port "), [port])
    same("bash: `netwhy port 80 ` offers nothing more", complete_bash("netwhy port 80 ", prefix=inside), [])

    # Errors give no candidates and print nothing.
    same("bash: `netwhy -n nosuchns link dev ` offers nothing",
         complete_bash("netwhy -n nw-no-such-ns link dev "), [])
    if shutil.which("setpriv"):
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        same(f"bash: as nobody, `netwhy -n {ns['srv']} port ` offers nothing (no root to enter)",
             complete_bash(f"netwhy -n {ns['srv']} port ", prefix=nobody), [])
    # A netwhy that fails as netwhy fails (a message on stderr, exit 2), and none at all.
    with tempfile.TemporaryDirectory() as bindir:
        with open(os.path.join(bindir, "netwhy"), "w") as f:
            f.write("#!/bin/sh\necho 'netwhy: cannot open rtnetlink: Permission denied' >&2\nexit 2\n")
        os.chmod(os.path.join(bindir, "netwhy"), 0o755)
        for path, what in ((bindir, "with a netwhy that fails"), ("", "without netwhy on PATH")):
            env = dict(ENV, PATH=os.pathsep.join(p for p in (path, "/usr/sbin", "/usr/bin", "/sbin", "/bin") if p))
            if not path and shutil.which("netwhy", path=env["PATH"]):
                continue  # one is installed
            same(f"bash: {what}, `netwhy link dev ` offers nothing", complete_bash("netwhy link dev ", env=env), [])
            same(f"bash: {what}, `netwhy port ` offers nothing", complete_bash("netwhy port ", env=env), [])


def zsh_checks(ns):
    print("# zsh")
    zsh = shutil.which("zsh")
    if not zsh:
        checks.check(not nwtest.IN_CI, "zsh is installed (scripts/bootstrap installs it)")
        return
    r = subprocess.run([zsh, "-n", ZSH_FILE], capture_output=True, text=True, timeout=30)
    checks.check(r.returncode == 0, "zsh -n completions/_netwhy", r.stderr.strip())
    driver = os.path.join(os.path.dirname(__file__), "zsh_complete.zsh")

    def complete(line):
        r = subprocess.run([zsh, "-f", driver, COMPLETIONS, line], capture_output=True, text=True, timeout=30,
                           env=ENV)
        offered = [w for w in r.stdout.split("\n") if w]
        checks.check(r.returncode == 0 and r.stderr == "", f"zsh: completing {line!r} prints no error",
                     r.stderr.strip())
        return offered

    same("zsh: `netwhy ` offers the commands", complete("netwhy "), COMMANDS)
    same("zsh: `netwhy -` offers every option of netwhy --help", complete("netwhy -"), GLOBAL)
    for cmd, opts in SUB.items():
        same(f"zsh: `netwhy {cmd} -` offers every option of netwhy {cmd} --help and the global ones",
             complete(f"netwhy {cmd} -"), set(opts) | set(GLOBAL))
    same("zsh: `netwhy addre` offers address", complete("netwhy addre"), ["address"])
    same("zsh: `netwhy --color=` offers its values", complete("netwhy --color="), GLOBAL["--color"])
    has(f"zsh: `netwhy -n ` offers {ns['srv']} and pid:", complete("netwhy -n "), [ns["srv"], "pid:"])
    same("zsh: `netwhy a dev ` offers the interfaces", complete("netwhy a dev "), ifnames())
    same(f"zsh: `netwhy -n {ns['srv']} l -j dev ` offers the interfaces there",
         complete(f"netwhy -n {ns['srv']} l -j dev "), ifnames(ns["srv"]))
    same("zsh: `netwhy route ` offers show get table dev", complete("netwhy route "), ["show", "get", "table", "dev"])


def fish_checks(ns, listener_port):
    print("# fish")
    fish = shutil.which("fish")
    if not fish:
        checks.check(not nwtest.IN_CI, "fish is installed (scripts/bootstrap installs it)")
        return
    r = subprocess.run([fish, "--no-execute", FISH_FILE], capture_output=True, text=True, timeout=30)
    checks.check(r.returncode == 0, "fish --no-execute completions/netwhy.fish", r.stderr.strip())

    def complete(line, prefix=()):
        script = f"source {FISH_FILE}; complete -C {line!r}"
        r = subprocess.run([*prefix, fish, "--no-config", "-c", script], capture_output=True, text=True,
                           timeout=30, env=ENV)
        offered = [w.split("\t")[0] for w in r.stdout.split("\n") if w]
        checks.check(r.returncode == 0 and r.stderr == "", f"fish: completing {line!r} prints no error",
                     r.stderr.strip())
        return offered

    same("fish: `netwhy ` offers the commands", complete("netwhy "), COMMANDS)
    same("fish: `netwhy p` offers port and ports", complete("netwhy p"), ["port", "ports"])
    same("fish: `netwhy -` offers every option of netwhy --help", complete("netwhy -"), GLOBAL)
    for cmd, opts in SUB.items():
        same(f"fish: `netwhy {cmd} -` offers every option of netwhy {cmd} --help and the global ones",
             complete(f"netwhy {cmd} -"), set(opts) | set(GLOBAL))
    same("fish: `netwhy addre` offers address", complete("netwhy addre"), ["address"])
    same("fish: `netwhy --color ` offers its values", complete("netwhy --color "), GLOBAL["--color"])
    same("fish: `netwhy ports --source ` offers its values", complete("netwhy ports --source "),
         SUB["ports"]["--source"])
    has(f"fish: `netwhy -n ` offers {ns['srv']} and pid:", complete("netwhy -n "), [ns["srv"], "pid:"])
    same("fish: `netwhy l dev ` offers the interfaces", complete("netwhy l dev "), ifnames())
    same(f"fish: in {ns['srv']}, `netwhy port ` offers the listening port",
         complete("netwhy port ", prefix=["ip", "netns", "exec", ns["srv"]]), [str(listener_port)])


LISTENER = r'''
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(120)
'''


def main():
    with nwtest.Namespaces("srv") as ns, tempfile.TemporaryDirectory() as tmp:
        ns.ip("srv", "link", "set", "lo", "up")
        if ns.ip("srv", "link", "add", "nwcomp0", "type", "dummy", check=False).returncode != 0:
            ns.ip("srv", "link", "add", "nwcomp0", "type", "ifb")
        # A python listener on a free port of 127.0.0.1 in the namespace; it says which.
        port_file = os.path.join(tmp, "port")
        ns.spawn("srv", sys.executable, "-c", LISTENER, port_file)
        deadline = time.monotonic() + 20
        while not os.path.exists(port_file) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not os.path.exists(port_file):
            checks.check(False, "the python listener started within 20 s")
            return
        with open(port_file) as f:
            port = int(f.read())
        bash_checks(ns, port)
        zsh_checks(ns)
        fish_checks(ns, port)


try:
    main()
except nwtest.Overtime as e:
    checks.check(False, str(e))
checks.done()
