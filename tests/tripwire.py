#!/usr/bin/env python3
"""A tripwire for the multi-host test: listens on the loopback addresses (127.0.0.1 and
::1) of the host it runs on, at the farm's ports, and appends a line to LOG for every
connection made to one of them, then closes it. On a worker's host nothing of the farm
listens on loopback, so any line in LOG is a program that dialled 127.0.0.1 (or
localhost) where it should have dialled the coordinator's host.

    tripwire.py LOG READY PORT...     (READY is created once every port listens)
"""
import selectors
import socket
import sys
import time


def main() -> None:
    log_path, ready_path, *ports = sys.argv[1:]
    selector = selectors.DefaultSelector()
    for port in map(int, ports):
        for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            listener = socket.socket(family, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((address, port))
            listener.listen(64)
            selector.register(listener, selectors.EVENT_READ, (address, port))
    open(ready_path, "w").close()
    with open(log_path, "a", buffering=1) as log:
        while True:
            for key, _ in selector.select():
                connection, peer = key.fileobj.accept()
                address, port = key.data
                log.write(f"{time.strftime('%H:%M:%S')} connection to {address} port {port} "
                          f"from {peer[0]} port {peer[1]}\n")
                connection.close()


if __name__ == "__main__":
    main()
