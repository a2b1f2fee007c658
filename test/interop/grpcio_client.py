"""An independent gRPC client (Debian's grpcio, C core) for the kit server's interop tests.

Usage: grpcio_client.py ADDRESS PROTO_ROOT VENDOR_ROOT OUT_DIR
Compiles the echo, health and reflection protos with grpc_tools, runs each check against ADDRESS and prints one
JSON object: {check name: result}. A check that raises reports {"error": ...} instead of stopping the others.
"""

import importlib
import json
import sys
import time

import grpc
from google.protobuf import descriptor_pb2, message_factory
from grpc_tools import protoc

address, proto_root, vendor_root, out_dir = sys.argv[1:5]

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
results = {}


def check(name):
    def register(fn):
        try:
            results[name] = fn()
        except Exception as error:  # report, keep going: the test names what failed
            results[name] = {"error": repr(error)}
        return fn

    return register


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


print(json.dumps(results))
