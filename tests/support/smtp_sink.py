"""A real SMTP server for the tests (aiosmtpd): each message it accepts becomes a file in the
Maildir given as the first argument. Prints the port it listens on (127.0.0.1), then runs
until its standard input closes, which happens when the test that started it ends."""

import socket
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    port = free_port()
    controller = Controller(Mailbox(sys.argv[1]), hostname="127.0.0.1", port=port)
    controller.start()
    print(port, flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
