"""One Echo call over mutual TLS with Debian's grpcio (the C core and its own TLS stack, not Node's OpenSSL binding).

Usage: grpcio_mtls_call.py ADDRESS ROOTS_PEM CERT_PEM KEY_PEM SERVER_NAME
SERVER_NAME is a DNS name in the server's certificate (grpcio checks it; mesh leaves carry one beside the SPIFFE ID).
Prints one JSON object: {"code": status name, "details": message, "reply": reply bytes echoed back, as text}.
"""

import json
import sys

import grpc

address, roots, cert, key, server_name = sys.argv[1:6]


def read(path):
    with open(path, "rb") as file:
        return file.read()


credentials = grpc.ssl_channel_credentials(
    root_certificates=read(roots), private_key=read(key), certificate_chain=read(cert)
)
channel = grpc.secure_channel(address, credentials, options=[("grpc.ssl_target_name_override", server_name)])
# EchoRequest{message: "from grpcio"}, encoded by hand: the call is made by path, no generated code needed.
request = b"\x0a\x0bfrom grpcio"
echo = channel.unary_unary("/mesh.echo.v1.EchoService/Echo")
try:
    reply = echo(request, timeout=10)
    print(json.dumps({"code": "OK", "details": "", "reply": reply.decode("utf-8", "replace")}))
except grpc.RpcError as error:
    print(json.dumps({"code": error.code().name, "details": error.details(), "reply": ""}))
