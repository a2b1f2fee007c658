"""An independent gRPC client (Debian's grpcio, C core) for the kit server's and the sidecar's interop tests.

Usage: grpcio_client.py ADDRESS PROTO_ROOT VENDOR_ROOT OUT_DIR [CHECK,CHECK...]
Compiles the echo, health and reflection protos with grpc_tools, runs the named checks (by default those not marked
opt-in) against ADDRESS and prints, as its last line, one JSON object: {check name: result}. A check that raises
reports {"error": ...} instead of stopping the others.

Some opt-in checks need the test to look at the app mid-call (how far ahead of a paused reader it got, whether it
saw a call cancelled): they print one JSON line {"ask": ...} and wait for the test's one-line JSON answer on stdin.
"""

import importlib
import json
import queue
import sys
import threading
import time

import grpc
from google.protobuf import descriptor_pb2, message_factory
from grpc_tools import protoc

address, proto_root, vendor_root, out_dir = sys.argv[1:5]
selected = sys.argv[5].split(",") if len(sys.argv) > 5 else None

for proto in ["mesh/echo/v1/echo.proto"]:
    assert protoc.main(["protoc", f"-I{proto_root}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", proto]) == 0
sys.path.insert(0, out_dir)
echo_pb2 = importlib.import_module("mesh.echo.v1.echo_pb2")
echo_grpc = importlib.import_module("mesh.echo.v1.echo_pb2_grpc")

# Generated modules for grpc.health and grpc.reflection would live in a Python package named "grpc" and shadow the
# grpc library, so their message classes are built from a descriptor set instead and called by method path.
descriptor_set = f"{out_dir}/vendor.binpb"
vendor_protos = ["grpc/health/v1/health.proto", "grpc/reflection/v1/reflection.proto",
                 "grpc/reflection/v1alpha/reflection.proto"]
assert protoc.main(["protoc", f"-I{vendor_root}", f"--descriptor_set_out={descriptor_set}", *vendor_protos]) == 0
with open(descriptor_set, "rb") as file:
    vendor_files = descriptor_pb2.FileDescriptorSet.FromString(file.read()).file
messages = message_factory.GetMessages(vendor_files)
HealthCheckRequest = messages["grpc.health.v1.HealthCheckRequest"]
HealthCheckResponse = messages["grpc.health.v1.HealthCheckResponse"]
ReflectionRequest = messages["grpc.reflection.v1.ServerReflectionRequest"]
ReflectionResponse = messages["grpc.reflection.v1.ServerReflectionResponse"]
AlphaRequest = messages["grpc.reflection.v1alpha.ServerReflectionRequest"]
AlphaResponse = messages["grpc.reflection.v1alpha.ServerReflectionResponse"]

channel = grpc.insecure_channel(address)
echo = echo_grpc.EchoServiceStub(channel)
MiB = 1024 * 1024
# For 4 MiB messages: grpcio refuses to receive more than 4 MiB (framing included) by default.
large_channel = grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", 16 * MiB),
                                                        ("grpc.max_send_message_length", 16 * MiB)])
echo_large = echo_grpc.EchoServiceStub(large_channel)
checks = []


def check(name, opt_in=False):
    def register(fn):
        checks.append((name, opt_in, fn))
        return fn

    return register


def ask(question, **details):
    """Asks the test about the app (see the module docstring) and returns its answer."""
    print(json.dumps({"ask": question, **details}), flush=True)
    return json.loads(sys.stdin.readline())


def request(**fields):
    return echo_pb2.EchoRequest(**fields)


def status_of(fn):
    try:
        fn()
        return {"code": "OK"}
    except grpc.RpcError as error:
        return {"code": error.code().name, "details": error.details()}


@check("unary")
def _():
    reply = echo.Echo(echo_pb2.EchoRequest(message="from python"), metadata=[("x-client", "grpcio")], timeout=5)
    return {"message": reply.message, "servedBy": reply.served_by, "client": reply.metadata.get("x-client"),
            "deadlineMs": reply.deadline_remaining_ms}


@check("status")
def _():
    return status_of(lambda: echo.Echo(echo_pb2.EchoRequest(fail_code=9, fail_message="stock is 0 % ünïcode"), timeout=5))


@check("deadline")
def _():
    started = time.monotonic()
    outcome = status_of(lambda: echo.Echo(echo_pb2.EchoRequest(delay_ms=5000), timeout=0.3))
    outcome["elapsedMs"] = int((time.monotonic() - started) * 1000)
    return outcome


@check("serverStreaming")
def _():
    return [reply.index for reply in echo.Expand(echo_pb2.EchoRequest(message="x", repeat=3), timeout=5)]


@check("clientStreaming")
def _():
    return echo.Collect(iter([echo_pb2.EchoRequest(message=w) for w in ["a", "b", "c"]]), timeout=5).message


@check("bidi")
def _():
    return [r.message for r in echo.Chat(iter([echo_pb2.EchoRequest(message=w) for w in ["x", "y"]]), timeout=5)]


@check("health")
def _():
    check_health = channel.unary_unary("/grpc.health.v1.Health/Check", request_serializer=HealthCheckRequest.SerializeToString,
                                       response_deserializer=HealthCheckResponse.FromString)
    status_name = HealthCheckResponse.DESCRIPTOR.enum_types_by_name["ServingStatus"].values_by_number
    overall = check_health(HealthCheckRequest(service=""), timeout=5).status
    echo_status = check_health(HealthCheckRequest(service="mesh.echo.v1.EchoService"), timeout=5).status
    unknown = status_of(lambda: check_health(HealthCheckRequest(service="no.such.Service"), timeout=5))
    return {"overall": status_name[overall].name, "echo": status_name[echo_status].name, "unknown": unknown["code"]}


@check("reflection")
def _():
    reflect = channel.stream_stream("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                                    request_serializer=ReflectionRequest.SerializeToString,
                                    response_deserializer=ReflectionResponse.FromString)
    requests = [
        ReflectionRequest(list_services=""),
        ReflectionRequest(file_containing_symbol="mesh.echo.v1.EchoService.Echo"),
        ReflectionRequest(file_containing_symbol="no.such.Symbol"),
    ]
    listed, by_symbol, missing = list(reflect(iter(requests), timeout=5))
    files = [descriptor_pb2.FileDescriptorProto.FromString(b) for b in by_symbol.file_descriptor_response.file_descriptor_proto]
    echo_file = files[0]
    service = next(s for s in echo_file.service if s.name == "EchoService")
    levels = {m.name: descriptor_pb2.MethodOptions.IdempotencyLevel.Name(m.options.idempotency_level) for m in service.method}
    return {
        "services": sorted(s.name for s in listed.list_services_response.service),
        "file": echo_file.name,
        "methods": [m.name for m in service.method],
        "echoInput": next(m.input_type for m in service.method if m.name == "Echo"),
        "idempotency": levels,
        "missingCode": missing.error_response.error_code,
    }


@check("reflectionV1alpha")
def _():
    reflect = channel.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                    request_serializer=AlphaRequest.SerializeToString,
                                    response_deserializer=AlphaResponse.FromString)
    requests = [AlphaRequest(list_services=""), AlphaRequest(file_by_filename="mesh/echo/v1/echo.proto")]
    listed, by_name = list(reflect(iter(requests), timeout=5))
    files = [descriptor_pb2.FileDescriptorProto.FromString(b) for b in by_name.file_descriptor_response.file_descriptor_proto]
    return {"services": len(listed.list_services_response.service), "file": files[0].name, "package": files[0].package}


@check("pingPong", opt_in=True)
def _():
    """Bidi, interleaved: each request is sent only once the previous reply arrived."""
    outgoing = queue.Queue()
    outgoing.put(request(message="ping-0"))
    replies = []
    call = echo.Chat(iter(outgoing.get, None), timeout=5)
    for reply in call:
        replies.append(reply.message)
        outgoing.put(request(message=f"ping-{len(replies)}") if len(replies) < 4 else None)
    return replies


@check("large", opt_in=True)
def _():
    """4 MiB requests and responses in every kind of call; returns the sizes that came back."""
    size = 4 * MiB
    payload = bytes([7]) * size
    unary_echo = echo_large.Echo(request(payload=payload), timeout=10)
    unary_response = echo_large.Echo(request(response_size=size), timeout=10)
    collected = echo_large.Collect(iter([request(message="big", payload=payload), request(message="end")]), timeout=10)
    expanded = [len(r.payload) for r in echo_large.Expand(request(repeat=2, response_size=size), timeout=10)]
    chatted = [len(r.payload) for r in echo_large.Chat(iter([request(payload=payload), request(response_size=size)]),
                                                        timeout=10)]
    return {"unaryRequest": len(unary_echo.payload), "unaryIntact": unary_echo.payload == payload,
            "unaryResponse": len(unary_response.payload), "clientStreaming": collected.message,
            "serverStreaming": expanded, "bidi": chatted}


@check("slowReader", opt_in=True)
def _():
    """A server stream of many MiB read one message, then paused while the test watches how far ahead the app gets."""
    count, size = 512, 64 * 1024
    # grpcio's BDP probe grows its own receive window with the bandwidth it measures (to several MiB on loopback):
    # buffering in the client, not on the path under test. Without it the window stays at grpcio's 64 KiB.
    paused_channel = grpc.insecure_channel(address, options=[("grpc.http2.bdp_probe", 0)])
    ask("snapshot")
    stream = echo_grpc.EchoServiceStub(paused_channel).Expand(request(repeat=count, response_size=size), timeout=20)
    indexes = [next(stream).index]
    app = ask("appStalled", method="Expand", read=1)
    sizes_ok = True
    for reply in stream:
        indexes.append(reply.index)
        sizes_ok = sizes_ok and len(reply.payload) == size
    paused_channel.close()
    return {"app": app, "received": len(indexes), "inOrder": indexes == list(range(count)), "sizesOk": sizes_ok}


def outcome(error, **more):
    return {"code": error.code().name, "details": error.details(), **more}


@check("cancelServerStream", opt_in=True)
def _():
    ask("snapshot")
    stream = echo.Expand(request(repeat=100, delay_ms=50), timeout=10)
    first = next(stream).index
    stream.cancel()
    try:
        rest = list(stream)
        return {"error": f"no error after cancel, got {len(rest)} more"}
    except grpc.RpcError as error:
        return outcome(error, first=first, appCancelled=ask("appCancelled", method="Expand"))


@check("cancelBidi", opt_in=True)
def _():
    ask("snapshot")
    outgoing = queue.Queue()
    outgoing.put(request(message="first"))
    stream = echo.Chat(iter(outgoing.get, None), timeout=10)
    first = next(stream).message
    stream.cancel()
    outgoing.put(None)
    try:
        list(stream)
        return {"error": "no error after cancel"}
    except grpc.RpcError as error:
        return outcome(error, first=first, appCancelled=ask("appCancelled", method="Chat"))


@check("cancelClientStream", opt_in=True)
def _():
    ask("snapshot")
    release = threading.Event()

    def requests():
        yield request(message="first")
        release.wait(10)

    future = echo.Collect.future(requests(), timeout=10)
    ask("appReceived", method="Collect")
    future.cancel()
    release.set()
    return {"code": future.code().name, "appCancelled": ask("appCancelled", method="Collect")}


@check("errorMidServerStream", opt_in=True)
def _():
    indexes = []
    try:
        for reply in echo.Expand(request(repeat=5, fail_after=2, fail_code=10, fail_message="gave up at 2 ✗"),
                                 timeout=5):
            indexes.append(reply.index)
        return {"error": "stream ended without the status"}
    except grpc.RpcError as error:
        return outcome(error, received=indexes)


@check("errorMidBidi", opt_in=True)
def _():
    replies = []
    requests = [request(message="ok"), request(message="bad", fail_code=9, fail_message="no stock ✗"),
                request(message="never")]
    try:
        for reply in echo.Chat(iter(requests), timeout=5):
            replies.append(reply.message)
        return {"error": "stream ended without the status"}
    except grpc.RpcError as error:
        return outcome(error, received=replies)


@check("deadlineUnary", opt_in=True)
def _():
    ask("snapshot")
    try:
        echo.Echo(request(delay_ms=10_000), timeout=0.3)
        return {"error": "answered past the deadline"}
    except grpc.RpcError as error:
        return outcome(error, appCancelled=ask("appCancelled", method="Echo"))


@check("deadlineServerStream", opt_in=True)
def _():
    ask("snapshot")
    indexes = []
    try:
        for reply in echo.Expand(request(repeat=3, delay_ms=10_000), timeout=0.5):
            indexes.append(reply.index)
        return {"error": "streamed past the deadline"}
    except grpc.RpcError as error:
        return outcome(error, received=indexes, appCancelled=ask("appCancelled", method="Expand"))


results = {}
for name, opt_in, fn in checks:
    if (name in selected) if selected is not None else not opt_in:
        try:
            results[name] = fn()
        except Exception as error:  # report, keep going: the test names what failed
            results[name] = {"error": repr(error)}
print(json.dumps(results))
