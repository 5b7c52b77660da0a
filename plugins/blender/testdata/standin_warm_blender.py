# A stand-in for a warm Blender in the pool's tests (warm_pool_test.go): it
# connects to its session as warm_driver.py does, says hello, and then
# waits until the session closes the connection (which asks the driver to
# quit), and exits. It renders nothing: the pool's tests only take, give
# back and stop sessions.
import json
import os
import socket

token, network, address = os.environ["CAJON_BLENDER_WARM"].split(" ", 2)
if network == "unix":
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if address.startswith("@"):
        address = "\0" + address[1:]  # a Linux abstract socket
    sock.connect(address)
else:
    host, _, port = address.rpartition(":")
    sock = socket.create_connection((host, int(port)))
sock.sendall((token + "\n").encode("utf-8"))
print("cajon-warm:%s %s" % (token, json.dumps({"ev": "hello", "version": "stand-in"})), flush=True)
while sock.recv(4096):
    pass
