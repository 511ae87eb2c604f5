"""Free loopback ports for test and benchmark services, chosen below the kernel's ephemeral range.

A port found with `bind(("127.0.0.1", 0))` comes from the ephemeral range, which is also where
every outgoing connection takes its local port. Between the moment the port is picked and the
moment a service binds it, one of the suite's own connections (a service calling another, a
client calling a service) can take it, and the service then fails to start with EADDRINUSE.
Ports below that range are never handed to outgoing connections, so they stay free unless
someone binds them on purpose. `python3 ports.py [N]` prints N such ports (one per line).
"""
import random
import socket
import sys

_handed_out: set = set()


def _ephemeral_range() -> tuple:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(part) for part in f.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A loopback port that is free now, outside the ephemeral range, and not handed out before
    by this process."""
    low, _ = _ephemeral_range()
    first, last = 10000, low - 1
    if last - first >= 1000:
        for _ in range(500):
            port = random.randint(first, last)
            if port not in _handed_out and _bindable(port):
                _handed_out.add(port)
                return port
    # A kernel whose ephemeral range leaves no room below it: fall back to its choice.
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


if __name__ == "__main__":
    for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 1):
        print(free_port())
