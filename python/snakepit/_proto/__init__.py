"""Generated protobuf code of proto/snakepit/v1/worker.proto (scripts/gen-python-proto.sh).

Why this package exists: only the gRPC worker transport imports it, so the default (pipe) runtime
never needs protobuf. Do not edit worker_pb2.py by hand: regenerate it.
"""
