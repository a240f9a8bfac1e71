"""`python -m snakepit`: the worker command line (see docs/worker-protocol.md).

Why this module exists: it only parses arguments and dispatches to --check, --describe or the
worker itself, so `--check` stays fast and never touches the tool module.
"""

import json
import sys

USAGE = """usage: python -m snakepit [--tools SPEC] [--threads N]
       python -m snakepit --check
       python -m snakepit --describe [--tools SPEC]

  --tools SPEC   a .py file or an importable module name (default: snakepit.demo)
  --threads N    number of call threads (default 1: calls run one at a time, in order)
  --check        print {"runtime", "python", "executable"} as JSON and exit
  --describe     print {"tools": [...]} as JSON and exit
"""


def _usage_error(message):
    sys.stderr.write("snakepit: %s\n%s" % (message, USAGE))
    sys.exit(2)


def parse_args(argv):
    opts = {"tools": None, "threads": 1, "check": False, "describe": False}
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if name in ("--tools", "--threads"):
            if not eq:
                i += 1
                if i >= len(argv):
                    _usage_error("%s needs a value" % name)
                value = argv[i]
            if name == "--tools":
                opts["tools"] = value
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
    return opts


def main(argv=None):
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    if opts["check"]:
        from . import __version__
        print(json.dumps({"runtime": __version__, "python": sys.version.split()[0],
                          "executable": sys.executable}))
        return 0
    if opts["describe"]:
        return _describe(opts["tools"])
    from .worker import serve
    serve(opts["tools"], opts["threads"])


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
