"""`python -m snakepit`: the worker command line (see docs/worker-protocol.md).

Why this module exists: it only parses arguments and dispatches to --check, --describe or the
worker itself, so `--check` stays fast and never touches the tool module.
"""

import json
import os
import sys

USAGE = """usage: python -m snakepit [--tools SPEC] [--threads N]
       python -m snakepit --transport grpc --listen ADDRESS [--tools SPEC] [--threads N]
       python -m snakepit --check
       python -m snakepit --describe [--tools SPEC]

  --tools SPEC        a .py file or an importable module name (default: snakepit.demo)
  --threads N         number of call threads (default 1: calls run one at a time, in order)
  --transport NAME    pipe (default: frames on fds 3/4) or grpc (needs grpcio)
  --listen ADDRESS    where the grpc transport serves: unix:/path/to.sock or host:port
  --check             print {"runtime", "python", "executable"} as JSON and exit
  --describe          print {"tools": [...]} as JSON and exit
"""
TRANSPORTS = ("pipe", "grpc")


def _usage_error(message):
    sys.stderr.write("snakepit: %s\n%s" % (message, USAGE))
    sys.exit(2)


def parse_args(argv):
    opts = {"tools": None, "threads": 1, "check": False, "describe": False,
            "transport": "pipe", "listen": None}
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if name in ("--tools", "--threads", "--transport", "--listen"):
            if not eq:
                i += 1
                if i >= len(argv):
                    _usage_error("%s needs a value" % name)
                value = argv[i]
            if name == "--tools":
                opts["tools"] = value
            elif name == "--transport":
                if value not in TRANSPORTS:
                    _usage_error("--transport must be one of %s, got %r" % (", ".join(TRANSPORTS), value))
                opts["transport"] = value
            elif name == "--listen":
                if not value:
                    _usage_error("--listen needs an address (unix:/path or host:port)")
                opts["listen"] = value
            else:
                try:
                    opts["threads"] = int(value)
                except ValueError:
                    opts["threads"] = 0
                if opts["threads"] < 1:
                    _usage_error("--threads needs a whole number >= 1, got %r" % value)
        elif arg in ("--check", "--describe"):
            opts[arg[2:]] = True
        elif arg in ("-h", "--help"):
            sys.stdout.write(USAGE)
            sys.exit(0)
        else:
            _usage_error("unknown argument %r" % arg)
        i += 1
    if opts["transport"] == "grpc" and opts["listen"] is None and not (opts["check"] or opts["describe"]):
        _usage_error("--transport grpc needs --listen ADDRESS (unix:/path or host:port)")
    if opts["listen"] is not None and opts["transport"] != "grpc":
        _usage_error("--listen is only for --transport grpc")
    return opts


def main(argv=None):
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    if opts["check"]:
        from . import __version__
        _compile_runtime()
        print(json.dumps({"runtime": __version__, "python": sys.version.split()[0],
                          "executable": sys.executable}))
        return 0
    if opts["describe"]:
        return _describe(opts["tools"])
    if opts["transport"] == "grpc":
        # Imported only here: the default runtime stays stdlib-only.
        from .grpc_transport import serve as serve_grpc
        serve_grpc(opts["tools"], opts["threads"], opts["listen"])
    from .worker import serve
    serve(opts["tools"], opts["threads"])


def _compile_runtime():
    """Writes the bytecode of this runtime (not of anyone's tools), as pip does when it installs a
    package. Python would write it on first import, except under PYTHONDONTWRITEBYTECODE=1 (set in
    many containers and CI images): then every worker start compiled the runtime from source, ~18
    ms of CPU each. `up` runs --check before it starts workers. Only when a file's bytecode is
    missing or older than it is compileall imported (that alone costs ~18 ms); a read-only install
    is left as it is."""
    tag = sys.implementation.cache_tag
    if tag is None:
        return
    here = os.path.dirname(os.path.abspath(__file__))
    stale = False
    for d in (here, os.path.join(here, "_proto")):
        try:
            names = [n for n in os.listdir(d) if n.endswith(".py")]
        except OSError:
            continue
        for name in names:
            pyc = os.path.join(d, "__pycache__", "%s.%s.pyc" % (name[:-3], tag))
            stale = not _pyc_matches(pyc, os.path.join(d, name))
            if stale:
                break
        if stale:
            break
    if not stale:
        return
    try:
        import compileall
        compileall.compile_dir(here, quiet=2)
    except Exception:  # noqa: BLE001 - a cache that cannot be written costs only speed
        pass


def _pyc_matches(pyc, source):
    """Whether Python would use `pyc` for `source`: the same check its importer makes (magic
    number, then the source's mtime and size recorded in the header), so a pyc that exists but
    belongs to another version of the file is stale too."""
    try:
        from importlib._bootstrap_external import MAGIC_NUMBER  # frozen: already loaded, costs nothing
        st = os.stat(source)
        with open(pyc, "rb") as f:
            head = f.read(16)
    except (OSError, ImportError):
        return False
    if len(head) < 16 or head[:4] != MAGIC_NUMBER or int.from_bytes(head[4:8], "little") != 0:
        return False
    return (int.from_bytes(head[8:12], "little") == int(st.st_mtime) & 0xFFFFFFFF
            and int.from_bytes(head[12:16], "little") == st.st_size & 0xFFFFFFFF)


def _describe(spec):
    from . import loader
    try:
        module_name, tools = loader.load(spec)
    except loader.LoadError as exc:
        sys.stderr.write("snakepit: %s\n" % exc)
        return 3
    except BaseException:
        import traceback
        traceback.print_exc()
        return 3
    print(json.dumps({"module": module_name, "tools": [t.description for t in tools]},
                     indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
