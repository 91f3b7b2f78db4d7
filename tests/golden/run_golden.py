#!/usr/bin/env python3
"""Golden tests for `netwhy port ... --snapshot FILE`: no root, no namespaces.

Each case in tests/data/golden is NAME.snapshot.json (the host, as `netwhy
snapshot -j` writes it), NAME.args (the question, what the case is meant to
show, and the expected exit status) and the expected outputs NAME.json
(`netwhy -j -p ARGS --snapshot FILE`) and NAME.txt (`netwhy --color=never
ARGS --snapshot FILE`). See tests/golden/README.md.

  run_golden.py [--netwhy PATH] [--findings findings.hpp] [--cases DIR] [NAME...]
  run_golden.py --regen ...     rewrite NAME.json, NAME.txt and NAME.args' "exit"
                                from the binary, then check everything as usual

Checks, for every case: stdout and exit status equal the expected files (a
unified diff otherwise), the expected and the produced JSON both validate
against docs/netwhy.schema.json (#/$defs/port), and the invariants below; then,
over all cases, that every finding code of code_table and every verdict is
shown by some case.
Exits 1 naming every failure, 0 when all pass.
"""

import argparse
import difflib
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE, "tests", "integration"))
import nwschema  # noqa: E402

# The JSON contract: verdict -> exit status.
VERDICT_EXIT = {"reachable": 0, "local-only": 1, "not-listening": 1, "unreachable": 1, "unknown": 3}
SEVERITIES = ("error", "warning", "info")
CASE_KEYS = ("about", "args", "meant_verdict", "meant_codes", "exit")


def code_table(findings_hpp, url=False):
    """The quoted code names of code_table in include/netwhy/findings.hpp: up to the
    codes only netwhy url reports, or (url=True) all of them."""
    with open(findings_hpp, encoding="utf-8") as f:
        text = f.read()
    start = text.find("code_table{")
    if start < 0:
        sys.exit(f"run_golden: no code_table in {findings_hpp}")
    # The codes after the marker are netwhy url's, which port --snapshot can't show.
    end = -1 if url else text.find("// netwhy url only", start)
    names = re.findall(r'CodeInfo\{\s*Code::\w+,\s*"([^"]+)"', text[start:end if end != -1 else len(text)])
    if not names:
        sys.exit(f"run_golden: no codes parsed from code_table in {findings_hpp}")
    return names


def write_args(path, case):
    """One layout for every .args file, so a regeneration changes only what changed."""
    ordered = {k: case.get(k) for k in CASE_KEYS}
    ordered.update({k: v for k, v in case.items() if k not in CASE_KEYS})
    lines = [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in ordered.items()]
    with open(path, "w", encoding="utf-8") as f:
        f.write("{\n" + ",\n".join(lines) + "\n}\n")


def run(netwhy, argv):
    r = subprocess.run([netwhy, *argv], capture_output=True, timeout=60,
                       env={**os.environ, "NO_COLOR": "1", "LC_ALL": "C.UTF-8"})
    return r.returncode, r.stdout, r.stderr


def commands(case, snapshot):
    args = case["args"]
    return {
        "json": ["-j", "-p", *args, "--snapshot", snapshot],
        "txt": ["--color=never", *args, "--snapshot", snapshot],
    }


def show(argv):
    """The command line as a person would retype it from the case directory."""
    words = [os.path.basename(a) if a.endswith(".snapshot.json") else a for a in argv]
    return "netwhy " + " ".join(w if re.fullmatch(r"[\w./:=-]+", w) else repr(w) for w in words)


def udiff(expected, actual, name):
    exp = expected.decode("utf-8", "replace").splitlines(keepends=True)
    act = actual.decode("utf-8", "replace").splitlines(keepends=True)
    return "".join(difflib.unified_diff(exp, act, f"expected/{name}", f"actual/{name}"))


class Case:
    def __init__(self, directory, name):
        self.name = name
        self.base = os.path.join(directory, name)
        self.snapshot = self.base + ".snapshot.json"
        self.failures = []
        self.codes = set()
        self.verdict = None
        with open(self.base + ".args", encoding="utf-8") as f:
            self.case = json.load(f)

    def fail(self, msg):
        self.failures.append(msg)

    def check_case_file(self, known_codes):
        c = self.case
        if not isinstance(c.get("args"), list) or not all(isinstance(a, str) for a in c["args"]):
            self.fail(f"{self.name}.args: \"args\" must be a list of strings")
            return False
        if c.get("meant_verdict") not in VERDICT_EXIT:
            self.fail(f"{self.name}.args: \"meant_verdict\" must be one of {', '.join(VERDICT_EXIT)}")
        for code in c.get("meant_codes", []):
            if code not in known_codes:
                self.fail(f"{self.name}.args: meant code {code!r} is not in code_table")
        return True

    def regen(self, netwhy):
        exits = {}
        for kind, argv in commands(self.case, self.snapshot).items():
            status, out, err = run(netwhy, argv)
            if status == 2:
                self.fail(f"{show(argv)}: usage or input error (exit 2): {err.decode('utf-8', 'replace').strip()}")
            with open(f"{self.base}.{kind}", "wb") as f:
                f.write(out)
            exits[kind] = status
        if exits["json"] != exits["txt"]:
            self.fail(f"exit status differs: {exits['json']} with -j, {exits['txt']} without")
        self.case["exit"] = exits["json"]
        write_args(self.base + ".args", self.case)

    def check(self, netwhy, known_codes):
        expected_exit = self.case.get("exit")
        if not isinstance(expected_exit, int):
            self.fail(f"{self.name}.args has no expected \"exit\": run scripts/regen-golden")
        outputs = {}
        for kind, argv in commands(self.case, self.snapshot).items():
            status, out, err = run(netwhy, argv)
            outputs[kind] = (status, out)
            if status == 2:
                self.fail(f"{show(argv)}: usage or input error (exit 2): {err.decode('utf-8', 'replace').strip()}")
            if isinstance(expected_exit, int) and status != expected_exit:
                self.fail(f"{show(argv)}: exit status {status}, expected {expected_exit}")
            path = f"{self.base}.{kind}"
            if not os.path.exists(path):
                self.fail(f"{os.path.basename(path)} is missing: run scripts/regen-golden")
                continue
            with open(path, "rb") as f:
                expected = f.read()
            if kind == "json":
                self.check_schema(f"expected {os.path.basename(path)}", expected)
                if status in nwschema.JSON_EXITS:
                    self.check_schema(f"{show(argv)}: stdout", out)
            if expected != out:
                self.fail(f"{show(argv)}: stdout differs from {os.path.basename(path)}:\n"
                          + udiff(expected, out, os.path.basename(path)))
        self.invariants(outputs, known_codes)

    def check_schema(self, what, data):
        """DATA (bytes of a `port -j` output) against the schema's #/$defs/port."""
        why = nwschema.available()
        if why:
            self.fail(f"{what}: not checked against the schema: {why}")
            return
        try:
            doc = json.loads(data.decode("utf-8", "replace"))
        except json.JSONDecodeError:
            return  # the invariants say it is not JSON
        for problem in nwschema.validate("port", doc):
            self.fail(f"{what} does not match docs/netwhy.schema.json#/$defs/port: {problem}")

    def invariants(self, outputs, known_codes):
        j_status, j_out = outputs["json"]
        t_status, t_out = outputs["txt"]
        if j_status != t_status:
            self.fail(f"exit status differs: {j_status} with -j, {t_status} without")
        try:
            j_text = j_out.decode("utf-8")
        except UnicodeDecodeError as e:
            self.fail(f"-j output is not valid UTF-8: {e}")
            j_text = j_out.decode("utf-8", "replace")
        try:
            t_text = t_out.decode("utf-8")
        except UnicodeDecodeError as e:
            self.fail(f"text output is not valid UTF-8: {e}")
            t_text = t_out.decode("utf-8", "replace")
        try:
            doc = json.loads(j_text)
        except json.JSONDecodeError as e:
            self.fail(f"-j output is not valid JSON: {e}")
            return
        if not isinstance(doc, dict):
            self.fail("-j output is not a JSON object")
            return
        verdict = doc.get("verdict")
        self.verdict = verdict
        if verdict not in VERDICT_EXIT:
            self.fail(f"verdict {verdict!r} is not one of {', '.join(VERDICT_EXIT)}")
        elif j_status != VERDICT_EXIT[verdict]:
            self.fail(f"verdict {verdict} must exit {VERDICT_EXIT[verdict]}, exited {j_status}")
        findings = doc.get("findings")
        if not isinstance(findings, list):
            self.fail("\"findings\" is not an array")
            findings = []
        for i, f in enumerate(findings):
            code = f.get("code") if isinstance(f, dict) else None
            sev = f.get("severity") if isinstance(f, dict) else None
            if code not in known_codes:
                self.fail(f"findings[{i}].code {code!r} is not in code_table")
            else:
                self.codes.add(code)
            if sev not in SEVERITIES:
                self.fail(f"findings[{i}].severity {sev!r} is not one of {', '.join(SEVERITIES)}")
            if verdict == "reachable" and sev == "error":
                self.fail(f"verdict reachable beside an error: {code}: {f.get('message')}")
        # HOST is another machine: the probe decides, not what listens here.
        host_eps = [e for e in doc.get("endpoints") or [] if isinstance(e, dict) and e.get("from_host")]
        if host_eps and all(e.get("interface") is None for e in host_eps) and verdict in ("not-listening",
                                                                                          "local-only"):
            self.fail(f"HOST is another machine, but the verdict is {verdict}: what listens here must not "
                      "lead the answer (the contract's --host rules)")
        headline = doc.get("headline")
        if not isinstance(headline, str) or not headline.strip():
            self.fail("\"headline\" is missing or empty")
        else:
            first = t_text.split("\n", 1)[0]
            if first != headline:
                self.fail(f"the text's first line is not the headline:\n  headline:   {headline!r}\n"
                          f"  first line: {first!r}")
        meant = self.case.get("meant_verdict")
        if meant in VERDICT_EXIT and verdict != meant:
            self.fail(f"meant to show verdict {meant}, shows {verdict}")
        missing = [c for c in self.case.get("meant_codes", []) if c not in self.codes]
        if missing:
            self.fail(f"meant to show {', '.join(missing)}; shows {', '.join(sorted(self.codes)) or 'no finding'}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--netwhy", default=os.environ.get("NETWHY", os.path.join(SOURCE, "build", "netwhy")))
    ap.add_argument("--findings", default=os.path.join(SOURCE, "include", "netwhy", "findings.hpp"))
    ap.add_argument("--cases", default=os.path.join(SOURCE, "tests", "data", "golden"))
    ap.add_argument("--regen", action="store_true", help="rewrite the expected files from the binary first")
    ap.add_argument("names", nargs="*", help="only these cases (the coverage check needs all)")
    opts = ap.parse_args()

    known = code_table(opts.findings)
    names = sorted(f[:-len(".snapshot.json")] for f in os.listdir(opts.cases) if f.endswith(".snapshot.json"))
    orphans = sorted({f.split(".")[0] for f in os.listdir(opts.cases)} - set(names))
    if opts.names:
        unknown = [n for n in opts.names if n not in names]
        if unknown:
            sys.exit(f"run_golden: no case named {', '.join(unknown)} in {opts.cases}")
        names = opts.names
    if not names:
        sys.exit(f"run_golden: no cases in {opts.cases}")

    cases, failed = [], 0
    for name in names:
        try:
            c = Case(opts.cases, name)
        except (OSError, json.JSONDecodeError) as e:
            print(f"FAIL {name}: {name}.args: {e}")
            failed += 1
            continue
        if c.check_case_file(known):
            if opts.regen:
                c.regen(opts.netwhy)
            c.check(opts.netwhy, known)
        cases.append(c)
        if c.failures:
            failed += 1
            print(f"FAIL {name}: {show(c.case.get('args', []))}")
            for msg in c.failures:
                print("  " + msg.replace("\n", "\n  ").rstrip())
        else:
            print(f"ok   {name}: {c.verdict} {' '.join(sorted(c.codes))}".rstrip())

    problems = []
    if orphans:
        problems.append(f"files without a NAME.snapshot.json: {', '.join(orphans)}")
    if not opts.names:
        shown = set().union(*(c.codes for c in cases))
        missing = [code for code in known if code not in shown]
        if missing:
            problems.append(f"coverage: no case shows the finding code{'s' if len(missing) > 1 else ''} "
                            f"{', '.join(missing)} ({len(known) - len(missing)} of {len(known)} shown)")
        meant = set().union(*(set(c.case.get("meant_codes", [])) for c in cases))
        unmeant = [code for code in known if code not in meant]
        if unmeant:
            problems.append(f"coverage: no case is meant to show {', '.join(unmeant)}: add one to {opts.cases}")
        verdicts = {c.verdict for c in cases}
        missing_v = [v for v in VERDICT_EXIT if v not in verdicts]
        if missing_v:
            problems.append(f"coverage: no case shows the verdict{'s' if len(missing_v) > 1 else ''} "
                            f"{', '.join(missing_v)}")
    for p in problems:
        print("FAIL " + p)
    total = len(names)
    print(f"\n{total - failed} of {total} golden cases pass" + (f"; {len(problems)} coverage failure(s)" if problems else ""))
    if opts.regen:
        print("regenerated: review with git diff tests/data/golden")
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main())
