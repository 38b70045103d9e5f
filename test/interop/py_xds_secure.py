"""Proxyless gRPC with xDS security (gRFC A29) and RBAC (A41) on PyPI grpcio,
run by test/interop/proxyless-security.test.ts with GRPC_XDS_BOOTSTRAP_CONFIG.

  serve HOST:PORT      an xDS-enabled server (A36) with xds_server_credentials:
                       its Listener, certificate and authorization come from xDS
  call xds:///NAME     one call over xds_channel_credentials; prints one JSON
                       line: {"ok": <reply>} or {"code": ..., "details": ...}

The server answers with the peer identities its TLS handshake verified.
"""

import json
import sys
from concurrent import futures

import grpc
import grpc.experimental

SERVICE, METHOD = "trellis.test.Echo", "Call"


def serve(address):
    def handler(_request, context):
        ids = [i.decode() for i in (context.peer_identities() or [])]
        return json.dumps({"peer": ids}).encode()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), xds=True)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {METHOD: grpc.unary_unary_rpc_method_handler(handler)}),))
    server.add_secure_port(address, grpc.xds_server_credentials(grpc.insecure_server_credentials()))
    server.start()
    print("serving", flush=True)
    server.wait_for_termination(timeout=120)


def call(target):
    creds = grpc.xds_channel_credentials(grpc.experimental.insecure_channel_credentials())
    with grpc.secure_channel(target, creds) as channel:
        stub = channel.unary_unary(f"/{SERVICE}/{METHOD}")
        try:
            reply = stub(b"hi", timeout=5)
            print(json.dumps({"ok": json.loads(reply)}))
        except grpc.RpcError as e:
            print(json.dumps({"code": e.code().name, "details": e.details()}))


if __name__ == "__main__":
    {"serve": serve, "call": call}[sys.argv[1]](sys.argv[2])
