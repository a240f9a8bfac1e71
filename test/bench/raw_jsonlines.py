"""Bench floor: a persistent child answering JSON lines on stdin/stdout (python-shell's JSON
mode, roughly). One request per line: {"id", "tool", "args"} → {"id", "result"}."""
import json
import sys


def add(a, b):
    return a + b


def main():
    readline = sys.stdin.buffer.readline
    write = sys.stdout.buffer.write
    flush = sys.stdout.buffer.flush
    loads, dumps = json.loads, json.dumps
    while True:
        line = readline()
        if not line:
            return
        req = loads(line)
        args = req["args"]
        write(dumps({"id": req["id"], "result": add(**args)}).encode() + b"\n")
        flush()


main()
