"""netwhy's JSON against docs/netwhy.schema.json, for every test that runs netwhy.

    entry = json_command(argv)              # "port", "url", "ports", "snapshot" or None
    problems = check_output(argv, status, stdout)   # [] when it validates (or prints no JSON)
    problems = validate("port", doc)

nwtest calls check_output for every netwhy it runs (through subprocess.run or
its own helpers); tests/golden/run_golden.py validates each expected and
produced output; tests/unit/test_schema.py tests this module and the schema.
The validators are built once per process, when first needed.
"""

import json
import os
import re

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA_PATH = os.path.join(SOURCE, "docs", "netwhy.schema.json")
ENTRIES = ("port", "url", "ports", "snapshot")
JSON_EXITS = (0, 1, 3)  # 2 is a usage or input error: nothing on stdout
GLOBAL_VALUE_OPTIONS = {"-n", "--netns", "--color"}
MAX_PROBLEMS = 5  # per document: the first few say what is wrong

_schema = None
_validators = {}
_missing = None  # why jsonschema could not be loaded, once known


def schema():
    global _schema
    if _schema is None:
        with open(SCHEMA_PATH, encoding="utf-8") as f:
            _schema = json.load(f)
    return _schema


def available():
    """None when python3-jsonschema (draft 2020-12) is importable; else why not."""
    global _missing
    if _missing is None:
        try:
            import jsonschema
            jsonschema.Draft202012Validator  # 4.0 and later
            _missing = ""
        except (ImportError, AttributeError) as e:
            _missing = f"python3-jsonschema with draft 2020-12 is not installed (scripts/bootstrap installs it): {e}"
    return _missing or None


def validator(entry=None):
    """The validator for #/$defs/ENTRY (entry None: the whole schema, any of the four)."""
    if entry not in _validators:
        import jsonschema
        s = schema()
        doc = s if entry is None else {"$schema": s["$schema"], "$defs": s["$defs"], "$ref": f"#/$defs/{entry}"}
        _validators[entry] = jsonschema.Draft202012Validator(doc)
    return _validators[entry]


def json_path(error):
    out = "$"
    for p in error.absolute_path:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def _deepest(error):
    """For an anyOf (null or an object, IPv4 or IPv6), the complaint of the branch that got
    furthest: "$.x.container.engine: 'lxc' is not one of [...]", not "... is not valid under
    any of the given schemas" nor "... is not of type 'null'"."""
    while error.context:
        error = max(error.context, key=lambda c: (len(c.absolute_path), c.validator != "type"))
    return error


def validate(entry, doc, limit=MAX_PROBLEMS):
    """["$.findings[0].code: 'x' is not one of [...]", ...]; [] when doc validates."""
    errors = sorted((_deepest(e) for e in validator(entry).iter_errors(doc)),
                    key=lambda e: list(map(str, e.absolute_path)))
    out = []
    for e in errors[:limit]:
        msg = e.message if len(e.message) <= 300 else e.message[:300] + "..."
        out.append(f"{json_path(e)}: {msg}")
    if len(errors) > limit:
        out.append(f"... and {len(errors) - limit} more")
    return out


def _text(a):
    return a.decode("utf-8", "surrogateescape") if isinstance(a, bytes) else str(a)


def _is_netwhy(word):
    netwhy = os.environ.get("NETWHY", "netwhy")
    return word == netwhy or os.path.basename(word) == "netwhy"


def json_command(argv):
    """The schema entry whose JSON the command line ARGV prints ("port", "url", "ports", "snapshot"),
    or None: not netwhy, no -j/--json, another command, or --help. ARGV may run netwhy
    through a prefix (ip netns exec NS, nsenter ..., setpriv ... --)."""
    if isinstance(argv, (str, bytes)):
        return None  # a shell command line: not taken apart
    words = [_text(a) for a in argv]
    start = next((i for i, w in enumerate(words) if _is_netwhy(w)), None)
    if start is None:
        return None
    want_json = False
    command = None
    skip = False
    for w in words[start + 1:]:
        if skip:
            skip = False
            continue
        if w in ("-h", "--help", "--version"):
            return None
        if w in ("-j", "--json") or re.fullmatch(r"-[46bp]*j[46bjp]*", w):
            want_json = True
        elif w in GLOBAL_VALUE_OPTIONS:
            skip = True
        elif not w.startswith("-") and command is None:
            command = w
    return command if want_json and command in ENTRIES else None


def check_output(argv, status, stdout):
    """The schema's complaints about what ARGV printed: [] when it validates, when the
    command prints no JSON, or when its exit status says there is none (2, killed)."""
    entry = json_command(argv)
    if entry is None or status not in JSON_EXITS or stdout is None:
        return []
    shown = " ".join(_text(a) for a in argv)
    why = available()
    if why:
        return [f"{shown}: {why}"]
    text = _text(stdout)
    try:
        doc = json.loads(text)
    except ValueError as e:
        return [f"{shown}: exit {status}, but stdout is not one JSON document: {e}"]
    return [f"{shown}: #/$defs/{entry}: {p}" for p in validate(entry, doc)]
