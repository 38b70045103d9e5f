"""Probe (not a test): how long grpcio lets a call run under a service-config
method timeout, with no xDS and no Trellis involved. A route's
`max_stream_duration` reaches a proxyless grpcio client as exactly such a
method timeout (gRFC A31), so this measures what a TrafficPolicy
`timeouts.request` becomes for grpcio clients (docs/proxyless.md, Limits).

  .venv/bin/python test/interop/grpcio_method_timeout_probe.py [TIMEOUT, default 2s]

A local server holds every call for 6 s; the call's own deadline is 10 s; so
the call ends at the method timeout. Three calls per process, one line; run it
a few times: grpcio 1.85.1 cut a 2s timeout at 0.27-0.96 s and a 4s timeout at
2.26-2.39 s (1-2 s short, the same within a process, different between
processes). A fixed grpcio prints about TIMEOUT for each call.
"""

import json
import sys
import time
from concurrent import futures

import grpc


def hold(_request, _context):
    time.sleep(6)
    return b"late"


def main():
    timeout = sys.argv[1] if len(sys.argv) > 1 else "2s"
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("probe.Hold", {"Call": grpc.unary_unary_rpc_method_handler(hold)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    config = {"methodConfig": [{"name": [{"service": "probe.Hold"}], "timeout": timeout}]}
    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.service_config", json.dumps(config))])
    call = channel.unary_unary("/probe.Hold/Call")
    ends = []
    for _ in range(3):
        started = time.monotonic()
        try:
            call(b"x", timeout=10)
            ends.append(f"OK after {int((time.monotonic() - started) * 1000)} ms")
        except grpc.RpcError as err:
            ends.append(f"{err.code().name} after {int((time.monotonic() - started) * 1000)} ms")
    print(f"grpcio {grpc.__version__}, method timeout {timeout}: " + "; ".join(ends), flush=True)
    channel.close()
    server.stop(0)


if __name__ == "__main__":
    main()
