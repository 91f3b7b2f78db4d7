#!/usr/bin/env python3
"""docs/netwhy.schema.json can fail: it is a valid draft 2020-12 schema, the
golden outputs and a snapshot netwhy wrote validate against it, and documents
broken on purpose (a wrong verdict, an unknown finding code, a missing key, a
string where a number is, ...) are rejected. Also the command-line reading of
tests/integration/nwschema.py, which decides what the integration tests check.

  test_schema.py [SOURCE_DIR]     (default: the tree this file is in)

Exit 0 when all pass, 1 naming each failure; 77 (skip) when python3-jsonschema
is missing, except under CI=true, where that is a failure.
"""

import copy
import glob
import json
import os
import sys

SOURCE = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else \
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(SOURCE, "tests", "integration"))
import nwschema  # noqa: E402

GOLDEN = os.path.join(SOURCE, "tests", "data", "golden")
# A snapshot file as `netwhy snapshot -j` wrote it (docker's published port, recorded live).
RECORDED_SNAPSHOT = os.path.join(GOLDEN, "docker-published.snapshot.json")

failures = []
passed = 0


def check(ok, what, detail=""):
    global passed
    if ok:
        passed += 1
        print(f"ok   {what}")
    else:
        failures.append(what)
        print(f"FAIL {what}" + (f": {detail}" if detail else ""))


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def valid(entry, doc, what):
    problems = nwschema.validate(entry, doc)
    check(not problems, f"{what} validates against #/$defs/{entry}", "; ".join(problems))
    whole = nwschema.validate(None, doc)
    check(not whole, f"{what} validates against the whole schema (any of the four)", "; ".join(whole))


def rejected(entry, doc, what, where, says=""):
    """DOC, broken on purpose, is refused, and the complaint is about WHERE ("$.verdict"),
    its message naming SAYS (a missing or unknown key)."""
    problems = nwschema.validate(entry, doc, limit=50)
    check(any(p.split(": ", 1)[0] == where and says in p.split(": ", 1)[1] for p in problems),
          f"rejected: {what} (at {where})",
          "; ".join(problems) or "the schema accepts it")
    check(bool(nwschema.validate(None, doc)), f"rejected by the whole schema too: {what}")


why = nwschema.available()
if why:
    in_ci = os.environ.get("CI") == "true"
    print(f"{'FAIL' if in_ci else 'SKIP'}: {why}")
    sys.exit(1 if in_ci else 77)

import jsonschema  # noqa: E402

schema = nwschema.schema()
try:
    jsonschema.Draft202012Validator.check_schema(schema)
    check(True, "the schema is a valid draft 2020-12 schema")
except jsonschema.SchemaError as e:
    check(False, "the schema is a valid draft 2020-12 schema", str(e)[:500])
    sys.exit(1)
check(schema.get("$schema") == "https://json-schema.org/draft/2020-12/schema", "the schema says it is draft 2020-12")
for entry in nwschema.ENTRIES:
    check(entry in schema.get("$defs", {}), f"entry point #/$defs/{entry} exists")

# The golden outputs: every `netwhy -j -p port ... --snapshot` the golden suite expects.
outputs = sorted(p for p in glob.glob(os.path.join(GOLDEN, "*.json")) if not p.endswith(".snapshot.json"))
check(len(outputs) >= 30, f"{len(outputs)} golden outputs found in {GOLDEN}")
port_docs = {}
for path in outputs:
    name = os.path.basename(path)
    port_docs[name] = load(path)
    valid("port", port_docs[name], f"golden {name}")

# ports: the listeners of the golden outputs, as `netwhy ports -j` prints them.
listeners = [l for d in port_docs.values() for l in d["listeners"]]
check(any(l["processes"] for l in listeners), "the golden listeners include processes")
udp_socket = dict(copy.deepcopy(listeners[0]), protocol="udp", backlog=None, queued=None)
listeners.append(udp_socket)  # as ports -j prints a UDP socket: no backlog, no queue
valid("ports", listeners, "the golden outputs' listeners as a ports list")
valid("ports", [], "an empty ports list")

snapshot = load(RECORDED_SNAPSHOT)
valid("snapshot", snapshot, os.path.basename(RECORDED_SNAPSHOT))

# Broken on purpose. Each starts from a valid document.
with_findings = next(d for d in port_docs.values()
                     if d["findings"] and d["listeners"] and d["endpoints"] and d["listeners"][0]["processes"])
with_container = next(d for d in port_docs.values() if any("container" in f for f in d["findings"]))


def broken(doc, change):
    d = copy.deepcopy(doc)
    change(d)
    return d


rejected("port", broken(with_findings, lambda d: d.update(verdict="maybe")), "a verdict not in the list", "$.verdict")
rejected("port", broken(with_findings, lambda d: d["findings"][0].update(code="no-such-code")),
         "an unknown finding code", "$.findings[0].code")
rejected("port", broken(with_findings, lambda d: d["findings"][0].update(severity="fatal")),
         "an unknown severity", "$.findings[0].severity")
rejected("port", broken(with_findings, lambda d: d.pop("headline")), "a missing headline", "$", says="'headline'")
rejected("port", broken(with_findings, lambda d: d["query"].pop("host")), "a missing query.host", "$.query",
         says="'host'")
rejected("port", broken(with_findings, lambda d: d["listeners"][0].update(port="8080")),
         "a string where the port number is", "$.listeners[0].port")
rejected("port", broken(with_findings, lambda d: d["listeners"][0].update(port=70000)),
         "a port past 65535", "$.listeners[0].port")
rejected("port", broken(with_findings, lambda d: d["query"].update(port=8.5)), "a fractional port", "$.query.port")
rejected("port", broken(with_findings, lambda d: d["endpoints"][0].update(remote="yes")),
         "a string where remote's bool or null is", "$.endpoints[0].remote")
rejected("port", broken(with_findings, lambda d: d["endpoints"][0].update(local=None)),
         "null where local's bool is (local is never null)", "$.endpoints[0].local")
rejected("port", broken(with_findings, lambda d: d["endpoints"][0].update(address="[::1]")),
         "an address in brackets", "$.endpoints[0].address")
rejected("port", broken(with_findings, lambda d: d.update(url="http://x/")), "a key the contract does not name", "$",
         says="'url'")
rejected("port", broken(with_findings, lambda d: d["findings"][0].update(evidence="x")),
         "a finding key that is no evidence field", "$.findings[0]", says="'evidence'")
rejected("port", broken(with_findings, lambda d: d["listeners"][0]["processes"][0].pop("ppid")),
         "a process without ppid", "$.listeners[0].processes[0]", says="'ppid'")
at = next(i for i, f in enumerate(with_container["findings"]) if "container" in f)
rejected("port", broken(with_container, lambda d: d["findings"][at]["container"].update(engine="lxc")),
         "a container engine not in the list", f"$.findings[{at}].container.engine")
rejected("ports", broken(listeners, lambda d: d[0].pop("inode")), "a listener without inode", "$[0]", says="'inode'")
holder = next(i for i, l in enumerate(listeners) if any(p["container"] for p in l["processes"]))
lxc = {"engine": "lxc", "id": "x", "name": "", "holder": True}
rejected("ports", broken(listeners, lambda d: d[holder]["processes"][0].update(container=lxc)),
         "a process's container engine not in the list (null or an object)",
         f"$[{holder}].processes[0].container.engine", says="'lxc' is not one of")
rejected("ports", broken(listeners, lambda d: d[0].update(family="ipv4")), "a family not inet or inet6", "$[0].family")
rejected("ports", broken(listeners, lambda d: d[0].update(protocol="sctp")), "a protocol not tcp or udp",
         "$[0].protocol")
inet = next(i for i, l in enumerate(listeners) if l["family"] == "inet")
rejected("ports", broken(listeners, lambda d: d[inet].update(v6only=True)), "v6only set on an inet socket",
         f"$[{inet}].v6only")
udp = next(i for i, l in enumerate(listeners) if l["protocol"] == "udp")
rejected("ports", broken(listeners, lambda d: d[udp].update(backlog=128)), "a backlog on a UDP socket",
         f"$[{udp}].backlog")
rejected("ports", {"listeners": listeners}, "an object where the array is", "$")
rejected("snapshot", broken(snapshot, lambda d: d.update(netwhy_snapshot=2)), "another file format version",
         "$.netwhy_snapshot")
rejected("snapshot", broken(snapshot, lambda d: d["links"][0].update(flags="65609")),
         "a string where link flags are", "$.links[0].flags")
rejected("snapshot", broken(snapshot, lambda d: d.pop("gaps")), "a snapshot without gaps", "$", says="'gaps'")
rejected("snapshot", broken(snapshot, lambda d: d["sysctls"].update({"net.ipv4.ip_forward": "1"})),
         "a sysctl that is not a number", "$.sysctls.net.ipv4.ip_forward")

# The finding codes: exactly code_table's (test_findings.cpp checks it too, from C++).
sys.path.insert(0, os.path.join(SOURCE, "tests", "golden"))
import run_golden  # noqa: E402

codes = run_golden.code_table(os.path.join(SOURCE, "include", "netwhy", "findings.hpp"), url=True)
check(schema["$defs"]["finding_code"]["enum"] == codes, "the schema's finding codes are code_table's, in its order",
      f"schema only: {sorted(set(schema['$defs']['finding_code']['enum']) - set(codes))}, "
      f"code_table only: {sorted(set(codes) - set(schema['$defs']['finding_code']['enum']))}")

# What the integration tests validate: the command line decides the entry.
N = "/build/netwhy"
for argv, entry in [
    ([N, "-j", "port", "8080"], "port"),
    ([N, "port", "8080", "-j"], "port"),
    ([N, "--json", "-p", "ports"], "ports"),
    ([N, "-jp", "ports", "8000", "--source", "proc"], "ports"),
    ([N, "-n", "nwsrv1", "-j", "snapshot"], "snapshot"),
    ([N, "-n", "port", "-j", "ports"], "ports"),                   # a namespace named port
    ([N, "--color", "never", "-j", "port", "80"], "port"),
    (["ip", "netns", "exec", "ns", N, "-j", "port", "5000", "--host", "dualname"], "port"),
    (["nsenter", "--net=/run/netns/x", "--", "setpriv", "--reuid=65534", "--", "/tmp/d/netwhy", "port", "80", "-j"],
     "port"),
    ([N.encode(), b"-j", b"ports"], "ports"),
    ([N, "port", "8080"], None),                                  # text
    ([N, "-j", "link"], None),                                    # the ip -j shape: not this schema's
    ([N, "-j", "route", "get", "10.0.0.1"], None),
    ([N, "-j", "port", "--help"], None),
    (["ip", "-j", "link"], None),
    (f"{N} -j ports", None),                                      # a shell line: not taken apart
]:
    got = nwschema.json_command(argv)
    check(got == entry, f"json_command({argv!r}) is {entry!r}", f"got {got!r}")

doc = json.dumps(with_findings)
check(nwschema.check_output([N, "-j", "port", "80"], 1, doc) == [], "check_output: a valid document, exit 1")
check(nwschema.check_output([N, "-j", "port", "80"], 2, "") == [],
      "check_output: exit 2 prints no JSON: nothing to check")
check(nwschema.check_output([N, "port", "80"], 1, "Nothing listens") == [], "check_output: text is not checked")
check(len(nwschema.check_output([N, "-j", "port", "80"], 0, "")) == 1, "check_output: exit 0 with no JSON is a problem")
check(len(nwschema.check_output([N, "-j", "ports"], 0, doc)) >= 1,
      "check_output: a port document from ports is a problem")
bad = nwschema.check_output([N, "-j", "port", "80"], 1,
                            json.dumps(broken(with_findings, lambda d: d.update(verdict="x"))))
check(len(bad) == 1 and "$.verdict" in bad[0], "check_output: names the bad field", repr(bad))

print(f"{passed} checks passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
