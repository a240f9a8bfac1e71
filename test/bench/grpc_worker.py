"""Bench reference: a grpcio server in one Python process, called directly by grpc-js with no
agent (what a user would do instead of Snakepit). Unary Call(JSON {a, b}) -> JSON a+b, and
Echo(bytes) -> bytes. Messages are raw bytes (identity serializers), so no codegen is needed.
Prints "ready" on stdout once it serves. Needs grpcio (Debian: python3-grpcio)."""
import json
import sys
from concurrent import futures

import grpc


def call(request, context):
    args = json.loads(request)
    return json.dumps(args["a"] + args["b"]).encode()


def echo(request, context):
    return request


def main():
    address = sys.argv[1]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=[
        ("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)])
    identity = None  # bytes in, bytes out
    handlers = {
        "Call": grpc.unary_unary_rpc_method_handler(call, request_deserializer=identity, response_serializer=identity),
        "Echo": grpc.unary_unary_rpc_method_handler(echo, request_deserializer=identity, response_serializer=identity),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("bench.Worker", handlers),))
    server.add_insecure_port(address)
    server.start()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    try:
        sys.stdin.read()  # stop when the benchmark closes our stdin or dies
    finally:
        server.stop(0)


main()
