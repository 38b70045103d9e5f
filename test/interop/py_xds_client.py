"""A proxyless xDS client built on PyPI grpcio (C-core), run by the test
harness as `.venv/bin/python test/interop/py_xds_client.py ...`.

Same flags and same stdout as js-xds-client.ts (shapes: client-output.ts):

  --target xds:///name:port   resolve through xDS (needs GRPC_XDS_BOOTSTRAP[_CONFIG])
  --direct host:port          or call a backend directly, no xDS
  --mode once|watch           once: --count calls, then one result line
                              watch: a call every --interval-ms, one line each,
                              until stdin closes or --duration-ms elapses
  --count N --concurrency C --deadline-ms D --metadata k=v (repeatable)

Exit 0 whenever the calls ran, whatever they returned; 2 on bad arguments.
"""

import argparse
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc

ECHO_METHOD = "/trellis.test.Echo/Call"


def parse_args():
    p = argparse.ArgumentParser(prog="py_xds_client")
    p.add_argument("--target")
    p.add_argument("--direct")
    p.add_argument("--mode", choices=["once", "watch"], default="once")
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--deadline-ms", type=int)
    p.add_argument("--interval-ms", type=int, default=20)
    p.add_argument("--duration-ms", type=int)
    p.add_argument("--metadata", action="append", default=[])
    args = p.parse_args()
    if bool(args.target) == bool(args.direct):
        p.error("give exactly one of --target xds:///... or --direct host:port")
    metadata = []
    for pair in args.metadata:
        key, eq, value = pair.partition("=")
        if not key or not eq:
            p.error(f"--metadata wants k=v, got {pair}")
        metadata.append((key.lower(), value))
    args.metadata = tuple(metadata)
    if args.deadline_ms is None:
        # A watch call that hangs would hide the moment routing changed.
        args.deadline_ms = 1000 if args.mode == "watch" else 5000
    return args


def identity(b):
    return b


def make_call(stub, args):
    """One call -> {"backend": name} or {"error": CODE_NAME, "details": text}."""
    try:
        reply = stub(b"ping", timeout=args.deadline_ms / 1000, metadata=args.metadata)
    except grpc.RpcError as err:
        return {"error": err.code().name, "details": err.details() or ""}
    try:
        return {"backend": json.loads(reply)["backend"]}
    except (ValueError, KeyError, TypeError):
        return {"error": "BAD_REPLY", "details": reply[:200].decode("utf-8", "replace")}


def run_once(stub, args):
    result = {"ok": 0, "errors": {}, "backends": {}, "details": {}}
    with ThreadPoolExecutor(max_workers=max(1, args.concurrency)) as pool:
        for outcome in pool.map(lambda _: make_call(stub, args), range(args.count)):
            if "backend" in outcome:
                result["ok"] += 1
                result["backends"][outcome["backend"]] = result["backends"].get(outcome["backend"], 0) + 1
            else:
                code = outcome["error"]
                result["errors"][code] = result["errors"].get(code, 0) + 1
                result["details"].setdefault(code, outcome["details"])
    print(json.dumps(result), flush=True)


def run_watch(stub, args):
    stopped = threading.Event()

    # The harness holds our stdin open and closes it to stop us; that also
    # stops us if the test process dies without cleaning up.
    def wait_for_stdin_eof():
        while sys.stdin.buffer.read(4096):
            pass
        stopped.set()

    threading.Thread(target=wait_for_stdin_eof, daemon=True).start()
    end_at = float("inf") if args.duration_ms is None else time.monotonic() + args.duration_ms / 1000
    while not stopped.is_set() and time.monotonic() < end_at:
        started = time.monotonic()
        outcome = make_call(stub, args)
        print(json.dumps({"t": int(time.time() * 1000), **outcome}), flush=True)
        wait = args.interval_ms / 1000 - (time.monotonic() - started)
        if wait > 0:
            stopped.wait(wait)


def main():
    args = parse_args()
    target = args.direct or args.target
    if target.startswith("xds:") and not (
        os.environ.get("GRPC_XDS_BOOTSTRAP") or os.environ.get("GRPC_XDS_BOOTSTRAP_CONFIG")
    ):
        print("py_xds_client: xds targets need GRPC_XDS_BOOTSTRAP or GRPC_XDS_BOOTSTRAP_CONFIG", file=sys.stderr)
        sys.exit(2)
    channel = grpc.insecure_channel(target)
    stub = channel.unary_unary(ECHO_METHOD, request_serializer=identity, response_deserializer=identity)
    if args.mode == "once":
        run_once(stub, args)
    else:
        run_watch(stub, args)
    sys.stdout.flush()
    channel.close()
    # C-core's xDS client can keep threads alive past close(); the results are
    # out, so leave without waiting for its shutdown.
    os._exit(0)


if __name__ == "__main__":
    main()
