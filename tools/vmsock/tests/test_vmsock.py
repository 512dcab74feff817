#!/usr/bin/env python3
"""Tests of the vmsock command-line tool, against peers nobody here wrote.

    test_vmsock.py --vmsock PATH [--emulator CMD...] [--socat PATH] [--ncat PATH]
                   [--bulk-bytes N] [unittest arguments: TestClass, TestClass.test_x]

Every test is bounded: each process is waited for with a timeout, and a test
whose processes outlive it fails (they are killed).  Loopback only: TCP on
127.0.0.1 and Unix sockets in a temporary directory; no AF_VSOCK socket is
ever connected (vsock:// and hvsock:// appear only where they are refused
before any system call, or in pure translations).

With --emulator (the Windows build under Wine), the tool runs through it and
only the tests that say they work there run (class attribute `emulated`).
"""

import argparse
import concurrent.futures
import hashlib
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

ARGS = None  # the parsed command line
IS_WINDOWS_TOOL = False
STARTUP = 0.0  # seconds one start of the tool took here (measured in main)


def tool(*args):
    """The command line that runs the tool with `args`."""
    return ARGS.emulator + [ARGS.vmsock] + list(args)


def run(*args, stdin=b"", timeout=30):
    """Runs the tool to its end; returns (exit code, stdout, stderr).  The
    limit is `timeout` plus ten starts of the tool as measured here (under
    Wine a start alone takes seconds)."""
    p = subprocess.run(tool(*args), input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout + 10 * STARTUP)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    if IS_WINDOWS_TOOL:  # text mode on Windows writes \r\n
        out, err = out.replace("\r\n", "\n"), err.replace("\r\n", "\n")
    return p.returncode, out, err


def run_many(arg_lists, timeout=30):
    """run() for each argument list, four at a time (under Wine one start of
    the tool costs about a second, mostly waiting); the results in order."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda args: run(*args, timeout=timeout), arg_lists))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def pattern(size, seed):
    """`size` bytes that differ by position and by seed (a lost, repeated or
    misplaced chunk changes them), made fast from one random block."""
    block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB
    out = bytearray()
    i = 0
    while len(out) < size:
        k = (i * 61 + seed) % len(block)
        out += block[k:] + block[:k]
        i += 1
    return bytes(out[:size])


class Process:
    """A background process whose stderr is collected line by line."""

    def __init__(self, cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, cwd=None):
        """stdin and stdout: a file name (read from, written to), or what Popen takes."""
        self.cmd = cmd
        files = []
        if isinstance(stdin, str):
            stdin = open(stdin, "rb")
            files.append(stdin)
        if isinstance(stdout, str):
            stdout = open(stdout, "wb")
            files.append(stdout)
        self.p = subprocess.Popen(cmd, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, cwd=cwd)
        for f in files:
            f.close()
        self.lines = []
        self.cv = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.p.stderr:
            with self.cv:
                self.lines.append(raw.decode(errors="replace").rstrip("\r\n"))
                self.cv.notify_all()
        with self.cv:
            self.cv.notify_all()

    def wait_line(self, regex, timeout=20):
        """The first stderr line matching `regex` (a match object)."""
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                for line in self.lines:
                    m = re.search(regex, line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0 or (self.p.poll() is not None and not self.reader.is_alive()):
                    raise AssertionError("no line matching %r from %s; stderr so far:\n%s"
                                         % (regex, self.cmd, "\n".join(self.lines)))
                self.cv.wait(min(left, 0.2))

    def stderr(self):
        self.reader.join(timeout=5)
        with self.cv:
            return "\n".join(self.lines)

    def wait(self, timeout=30):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("%s did not end within %s s; stderr:\n%s"
                                 % (self.cmd, timeout, self.stderr()))

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(timeout=10)
        self.reader.join(timeout=5)
        for f in (self.p.stdin, self.p.stdout, self.p.stderr):
            if f:
                f.close()


class ToolTest(unittest.TestCase):
    emulated = False  # whether the test runs under --emulator too

    def setUp(self):
        if ARGS.emulator and not self.emulated:
            self.skipTest("not run under the emulator")
        self.dir = tempfile.mkdtemp(prefix="vmsock-cli-")
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            p.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, cmd, **kw):
        p = Process(cmd, **kw)
        self.procs.append(p)
        return p

    def relay(self, *args, **kw):
        """Starts `vmsock cat -v ARGS` and returns it with the URI it listens on."""
        p = self.start(tool("cat", "-v", *args), **kw)
        return p

    def listening(self, p):
        return p.wait_line(r"listening on (\S+)").group(1).rstrip(",")

    def path(self, name):
        return os.path.join(self.dir, name)

    def need(self, program, what):
        if not program:
            if os.environ.get("VMSOCK_REQUIRE_SUITES"):
                self.fail("%s was not found (Debian: apt-get install %s)" % (what, what))
            self.skipTest("%s not found" % what)


# ---- translations -------------------------------------------------------------------

class Translate(ToolTest):
    emulated = True
    template = "-facb-11e6-bd58-64006a7986d3"
    vectors = [(0, "00000000"), (1, "00000001"), (1234, "000004d2"), (2761, "00000ac9"),
               (0x7FFFFFFF, "7fffffff")]

    def test_port2guid_vectors(self):
        cases = [(text, first) for port, first in self.vectors for text in (str(port), hex(port))]
        for (text, first), result in zip(cases, run_many([("port2guid", text) for text, _ in cases])):
            self.assertEqual(result, (0, first + self.template + "\n", ""), text)

    def test_guid2port_vectors(self):
        cases = [(text, port) for port, first in self.vectors
                 for text in (first + self.template, "{" + (first + self.template).upper() + "}")]
        for (text, port), result in zip(cases, run_many([("guid2port", text) for text, _ in cases])):
            self.assertEqual(result, (0, "%d\n" % port, ""), text)

    def test_port_0x80000000_is_rejected(self):
        texts = ("0x80000000", "2147483648", "4294967295", "0x100000000")
        for text, (code, out, err) in zip(texts, run_many([("port2guid", text) for text in texts])):
            self.assertEqual(code, 1, text)
            self.assertEqual(out, "")
            self.assertRegex(err, r"^vmsock port2guid: port .* is above 0x7fffffff \(hv::max_port\): "
                                  r"no Hyper-V service id carries it\n$")
        self.assertIn("port 2147483648 (0x80000000) is above", run("port2guid", "0x80000000")[2])

    def test_guid_0x80000000_is_rejected(self):
        code, out, err = run("guid2port", "80000000" + self.template)
        self.assertEqual((code, out), (1, ""))
        self.assertEqual(err, "vmsock guid2port: 80000000-facb-11e6-bd58-64006a7986d3: its port "
                              "2147483648 (0x80000000) is above 0x7fffffff (hv::max_port): the "
                              "VSOCK template carries no such port\n")

    def test_not_a_template(self):
        code, out, err = run("guid2port", "a42e7cda-d03f-480c-9cc2-a4de20abb878")
        self.assertEqual((code, out), (1, ""))
        self.assertEqual(err, "vmsock guid2port: a42e7cda-d03f-480c-9cc2-a4de20abb878: service id is "
                              "not a VSOCK-template GUID (xxxxxxxx-facb-11e6-bd58-64006a7986d3)\n")

    def test_parse(self):
        code, out, err = run("parse", "hvsock://PARENT/5000", "tcp://127.0.0.1:80")
        self.assertEqual((code, err), (0, ""))
        self.assertIn("uri:       hvsock://parent/5000\n", out)
        self.assertIn("family:    AF_HYPERV (34)\nnative:    SOCKADDR_HV, 36 bytes\n", out)
        self.assertIn("port:      5000 (a VSOCK-template service id)\n", out)
        self.assertIn("uri:       tcp://127.0.0.1:80\nscheme:    tcp\ntype:      stream\n"
                      "family:    AF_INET (2)\nnative:    sockaddr_in, 16 bytes\n", out)
        if IS_WINDOWS_TOOL:
            self.assertIn("carried:   as AF_HYPERV\n", out)
            _, out, _ = run("parse", "vsock://2:5000")
            self.assertIn("carried:   as AF_HYPERV (34): hvsock://parent/5000, SOCKADDR_HV, 36 bytes\n", out)
        else:
            self.assertIn("carried:   as AF_VSOCK (40): vsock://2:5000, sockaddr_vm, 16 bytes\n", out)

    def test_parse_rejects_with_the_reason(self):
        code, out, err = run("parse", "tcp://localhost:80")
        self.assertEqual((code, out), (2, ""))
        self.assertEqual(err, 'vmsock parse: endpoint URI "tcp://localhost:80": host names are not '
                              'resolved: give an IPv4 literal or [IPv6] (at offset 6)\n')


class Cid(ToolTest):
    def test_cid_or_why_not(self):
        code, out, err = run("cid")
        if code == 0:
            self.assertRegex(out, r"^\d+( \(any: .*\))?\n$")
        else:
            self.assertEqual(code, 1)
            self.assertRegex(err, r"^vmsock cid: local_cid \(/dev/vsock\): .+\n$")


class Service(ToolTest):
    def test_unsupported_on_linux(self):
        if IS_WINDOWS_TOOL:
            self.skipTest("Windows")
        reason = ("registering a Hyper-V service is a step on a Windows Hyper-V host; a Linux host "
                  "needs none")
        for args in (["list"], ["register", "5000", "agent"], ["unregister", "5000"],
                     ["register", "a42e7cda-d03f-480c-9cc2-a4de20abb878", "agent"]):
            code, out, err = run("service", *args)
            self.assertEqual((code, out), (1, ""), args)
            self.assertIn(reason, err, args)
            self.assertTrue(err.startswith("vmsock service: "), err)
        self.assertIn("register Hyper-V service 00001388-facb-11e6-bd58-64006a7986d3 (element name "
                      "\"agent\")", run("service", "register", "5000", "agent")[2])


# ---- usage errors and run-time failures -------------------------------------------------

class Usage(ToolTest):
    emulated = True
    cases = [
        ([], "vmsock: a command is needed: cat, mux, port2guid, guid2port, cid, parse or service (vmsock --help)"),
        (["frob"], "vmsock frob: unknown command 'frob' (cat, mux, port2guid, guid2port, cid, parse, service)"),
        (["--frob"], "vmsock: unknown option '--frob' before the command"),
        (["cat"], "vmsock cat: two addresses are needed, got 0"),
        (["cat", "-"], "vmsock cat: two addresses are needed, got 1"),
        (["cat", "-", "tcp://127.0.0.1:1", "tcp://127.0.0.1:2"],
         "vmsock cat: two addresses only, got 3 (several URIs for one address go with ',')"),
        (["cat", "-", "-"], "vmsock cat: '-' (stdin/stdout) can be only one of the two addresses"),
        (["cat", "--fork", "-", "tcp://127.0.0.1:1"], "vmsock cat: --fork needs a listen: address"),
        (["cat", "--fork", "listen:tcp://127.0.0.1:0", "listen:tcp://127.0.0.1:0"],
         "vmsock cat: --fork serves one listen: address; the other is opened for each connection"),
        (["cat", "--keep-listening", "listen:tcp://127.0.0.1:0", "-"],
         "vmsock cat: --fork opens the other address for each connection: '-' (stdin/stdout) cannot "
         "be opened more than once"),
        (["cat", "--max-connections", "5", "-", "tcp://127.0.0.1:1"],
         "vmsock cat: --max-connections goes with --fork"),
        (["cat", "--fork", "--max-connections=0", "listen:tcp://127.0.0.1:0", "exec:cat"],
         "vmsock cat: --max-connections: '0' is out of range (1 to 1048576)"),
        (["cat", "--max-connections", "ten", "-", "exec:cat"],
         "vmsock cat: --max-connections 'ten' is not a number (decimal, or hexadecimal with 0x)"),
        (["cat", "--idle-timeout", "soon", "-", "exec:cat"],
         "vmsock cat: --idle-timeout: 'soon' is not a duration (e.g. 500ms, 5s, 2m; seconds when no unit)"),
        (["cat", "-", "exec:cat", "--connect-timeout"], "vmsock cat: option --connect-timeout needs a value"),
        (["cat", "--connect-timeout=0", "-", "exec:cat"],
         "vmsock cat: --connect-timeout: '0' is out of range (1 ms to 31 years)"),
        (["cat", "-b", "1", "-", "exec:cat"],
         "vmsock cat: -b: '1' is out of range (4096 to 67108864 bytes)"),
        (["cat", "--buffer=lots", "-", "exec:cat"],
         "vmsock cat: --buffer: 'lots' is not a size (e.g. 65536, 64K, 1M)"),
        (["cat", "--splice", "sometimes", "-", "exec:cat"],
         "vmsock cat: --splice: 'sometimes' is not auto, always or never"),
        (["cat", "--stats=yes", "-", "exec:cat"], "vmsock cat: option --stats takes no value"),
        (["cat", "--frob", "-", "exec:cat"], "vmsock cat: unknown option '--frob'"),
        (["cat", "-", "exec:"], "vmsock cat: address 2: exec: needs a command"),
        (["cat", "listen:", "-"], "vmsock cat: address 1: listen: needs a URI"),
        (["cat", "", "-"], "vmsock cat: address 1 is empty"),
        (["cat", "-", "tcp://localhost:80"],
         'vmsock cat: address 2: endpoint URI "tcp://localhost:80": host names are not resolved: '
         'give an IPv4 literal or [IPv6]'),
        (["cat", "TCP-LISTEN:80", "-"],
         'vmsock cat: address 1: endpoint URI "TCP-LISTEN:80": not a URI: expected vsock://, '
         'hvsock://, hybrid-vsock://, tcp://, udp:// or unix://'),
        (["cat", "-", "tcp://127.0.0.1:1,tcp://127.0.0.1:99999"],
         'vmsock cat: address 2, entry 2 of 2: endpoint URI "tcp://127.0.0.1:99999": '),
        (["cat", "listen:udp://127.0.0.1:5000", "-"],
         "vmsock cat: address 1: listen: takes stream URIs (tcp, unix, vsock, hvsock, hybrid-vsock); "
         "udp://127.0.0.1:5000 has no connections to accept"),
        (["cat", "-", "tcp://127.0.0.1:1,udp://127.0.0.1:5000"],
         "vmsock cat: address 2, entry 2 of 2: udp://127.0.0.1:5000 is a datagram endpoint; a list "
         "of URIs to try takes stream endpoints"),
        (["port2guid"], "vmsock port2guid: a PORT is needed"),
        (["port2guid", "1", "2"], "vmsock port2guid: one PORT only, got 2"),
        (["port2guid", "five"], "vmsock port2guid: PORT 'five' is not a number (decimal, or hexadecimal with 0x)"),
        (["port2guid", "-1"], "vmsock port2guid: PORT '-1' is not a number (decimal, or hexadecimal with 0x)"),
        (["port2guid", "--frob"], "vmsock port2guid: unknown option '--frob'"),
        (["guid2port"], "vmsock guid2port: a GUID is needed"),
        (["guid2port", "zz"], 'vmsock guid2port: GUID "zz": '),
        (["cid", "3"], "vmsock cid: takes no arguments, got '3'"),
        (["parse"], "vmsock parse: a URI is needed"),
        (["service"], "vmsock service: a subcommand is needed: register, unregister or list"),
        (["service", "frob"], "vmsock service: unknown subcommand 'frob' (register, unregister, list)"),
        (["service", "register", "5000"], "vmsock service: register takes GUID|PORT NAME"),
        (["service", "unregister"], "vmsock service: unregister takes GUID|PORT"),
        (["service", "list", "all"], "vmsock service: list takes no arguments"),
        (["service", "unregister", "port5000"],
         "vmsock service: port 'port5000' is not a number (decimal, or hexadecimal with 0x)"),
        (["service", "unregister", "a42e7cda-d03f"], 'vmsock service: GUID "a42e7cda-d03f": '),
    ]

    def test_each_usage_error(self):
        results = run_many([args for args, _ in self.cases])
        for (args, message), (code, out, err) in zip(self.cases, results):
            self.assertEqual(code, 2, "%s: %s" % (args, err))
            self.assertEqual(out, "", args)
            self.assertTrue(err.endswith("\n") and err.count("\n") == 1, "not one line: %r" % err)
            self.assertTrue(err.startswith(message), "%s:\n  got:  %r\n  want: %r" % (args, err, message))

    def test_help(self):
        commands = ("cat", "mux", "port2guid", "guid2port", "cid", "parse", "service")
        forms = [(cmd, flag) for cmd in commands for flag in ("--help", "-h")] + [("help", cmd) for cmd in commands]
        results = dict(zip(forms, run_many(forms)))
        for cmd in commands:
            for flag in ("--help", "-h"):
                code, out, err = results[(cmd, flag)]
                self.assertEqual((code, err), (0, ""), cmd)
                self.assertTrue(out.startswith("usage: vmsock " + cmd), out)
            self.assertEqual(results[("help", cmd)][1], results[(cmd, "--help")][1])
        code, out, err = run("--help")
        self.assertEqual((code, err), (0, ""))
        self.assertIn("commands:", out)
        self.assertRegex(run("--version")[1], r"^vmsock \d+\.\d+\.\d+\n$")


class Failures(ToolTest):
    emulated = True

    def test_refused(self):
        port = free_port()
        code, out, err = run("cat", "-", "tcp://127.0.0.1:%d" % port)
        self.assertEqual((code, out), (1, ""))
        # Windows' own wording ends with a full stop.
        self.assertRegex(err, r"^vmsock cat: connect to tcp://127.0.0.1:%d: Connection refused\.?\n$" % port)

    def test_a_list_names_every_attempt(self):
        p1, p2 = free_port(), free_port()
        code, out, err = run("cat", "-", "hvsock://6e5a1a7c-55a2-4b4b-9f2c-9d3e5a1c2b7f/5000,"
                             "tcp://127.0.0.1:%d,tcp://127.0.0.1:%d" % (p1, p2))
        self.assertEqual((code, out), (1, ""))
        self.assertRegex(err, r"^vmsock cat: connect_first: hvsock://6e5a1a7c-55a2-4b4b-9f2c-9d3e5a1c2b7f/"
                              r"5000: skipped: [^;]+; tcp://127.0.0.1:%d: Connection refused\.?; "
                              r"tcp://127.0.0.1:%d: Connection refused\.?\n$" % (p1, p2))

    def test_address_in_use(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        code, out, err = run("cat", "listen:tcp://127.0.0.1:%d" % port, "-")
        s.close()
        self.assertEqual((code, out), (1, ""))
        self.assertRegex(err, r"^vmsock cat: listen_all: listen on tcp://127.0.0.1:%d: (Address already in use|"
                              r"Windows error 10048 \(WSAEADDRINUSE\))\n$" % port)

    def test_connect_timeout(self):
        if IS_WINDOWS_TOOL:
            self.skipTest("a full backlog is refused at once by Wine's host stack, not dropped")
        # A listener that never accepts, its backlog full: further SYNs are
        # dropped, so a connect waits until its timeout.
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(0)
        port = s.getsockname()[1]
        fillers = []
        for _ in range(4):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", port))
            fillers.append(c)
        time.sleep(0.2)
        t0 = time.monotonic()
        code, out, err = run("cat", "--connect-timeout", "500ms", "-", "tcp://127.0.0.1:%d" % port)
        took = time.monotonic() - t0
        for c in fillers:
            c.close()
        s.close()
        self.assertEqual(code, 1, err)
        # vmsock's own timeout (errc::timed_out), worded by the library.
        self.assertEqual(err, "vmsock cat: connect to tcp://127.0.0.1:%d: operation timed out\n" % port)
        self.assertLess(took, 5)
        self.assertGreater(took, 0.4)

    def full_backlog(self):
        """A listener that never accepts, its backlog full (a connect waits),
        closed at the end of the test."""
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(0)
        fillers = []
        for _ in range(4):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(s.getsockname())
            fillers.append(c)
        time.sleep(0.2)
        self.addCleanup(lambda: [x.close() for x in fillers + [s]])
        return s.getsockname()[1]

    def test_a_signal_cancels_a_waiting_connect(self):
        # No --connect-timeout: only the signal ends the connect (any_connector),
        # not the tool's 3 s fallback.
        if IS_WINDOWS_TOOL:
            self.skipTest("a full backlog is refused at once by Wine's host stack, not dropped")
        port = self.full_backlog()
        for uris in ("tcp://127.0.0.1:%d" % port,
                     "tcp://127.0.0.1:%d,tcp://127.0.0.1:%d" % (port, port)):
            relay = self.start(tool("cat", "-v", "-", uris), stdin=subprocess.PIPE)
            time.sleep(0.5)
            self.assertIsNone(relay.p.poll(), relay.stderr())
            relay.p.send_signal(signal.SIGTERM)
            self.assertEqual(relay.wait(10), 128 + signal.SIGTERM, relay.stderr())
            self.assertNotIn("not everything ended", relay.stderr())
            self.assertNotIn("connected", relay.stderr())

    def test_a_signal_cancels_the_connects_of_fork(self):
        if IS_WINDOWS_TOOL:
            self.skipTest("a full backlog is refused at once by Wine's host stack, not dropped")
        port = self.full_backlog()
        relay = self.start(tool("cat", "-v", "--fork", "listen:tcp://127.0.0.1:0",
                                "tcp://127.0.0.1:%d" % port))
        host, lport = self.listening(relay)[len("tcp://"):].rsplit(":", 1)
        clients = [socket.create_connection((host, int(lport)), timeout=10) for _ in range(3)]
        for i in range(1, 4):
            relay.wait_line(r"\[%d\] accepted" % i)
        time.sleep(0.3)
        relay.p.send_signal(signal.SIGTERM)
        self.assertEqual(relay.wait(10), 128 + signal.SIGTERM, relay.stderr())
        err = relay.stderr()
        self.assertNotIn("not everything ended", err)
        self.assertNotIn("anceled", err, "a cancelled connect was logged as a failure")
        for c in clients:
            c.close()


class WaitForReady(ToolTest):
    """--wait-for-ready: the client starts first, its peer later."""

    def late_server(self, family, address, delay=0.5):
        """After `delay`, listens on `address`, takes one connection, answers
        what it reads with "ready: " and the bytes, and closes."""
        got = []

        def serve():
            time.sleep(delay)
            s = socket.socket(family, socket.SOCK_STREAM)
            if family == socket.AF_INET:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(address)
            s.listen(1)
            s.settimeout(30)
            try:
                c, _ = s.accept()
                c.settimeout(30)
                data = b""
                while True:
                    chunk = c.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                got.append(data)
                c.sendall(b"ready: " + data)
                c.close()
            finally:
                s.close()

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        self.addCleanup(t.join, 30)
        return t, got

    def test_a_tcp_listener_that_starts_later(self):
        port = free_port()
        t, got = self.late_server(socket.AF_INET, ("127.0.0.1", port))
        code, out, err = run("cat", "-v", "--wait-for-ready", "--connect-timeout", "20s", "-",
                             "tcp://127.0.0.1:%d" % port, stdin=b"hello")
        t.join(30)
        self.assertEqual((code, out), (0, "ready: hello"), err)
        self.assertEqual(got, [b"hello"])
        self.assertIn("connected to tcp://127.0.0.1:%d" % port, err)

    def test_a_unix_socket_file_that_appears_later_in_a_list(self):
        path = self.path("late.sock")
        port = free_port()
        t, got = self.late_server(socket.AF_UNIX, path)
        code, out, err = run("cat", "--wait-for-ready", "--connect-timeout", "20s", "-",
                             "unix://%s,tcp://127.0.0.1:%d" % (path, port), stdin=b"hi")
        t.join(30)
        self.assertEqual((code, out), (0, "ready: hi"), err)

    def test_the_deadline_names_the_attempts_and_the_last_error(self):
        port = free_port()
        code, out, err = run("cat", "--wait-for-ready", "--connect-timeout", "300ms", "-",
                             "tcp://127.0.0.1:%d" % port)
        self.assertEqual((code, out), (1, ""))
        self.assertRegex(err, r"^vmsock cat: connect to tcp://127.0.0.1:%d: waited for it to be ready: "
                              r"\d+ attempts, the last: Connection refused: operation timed out\n$" % port)

    def test_without_a_timeout_a_signal_ends_the_wait(self):
        port = free_port()
        relay = self.start(tool("cat", "--wait-for-ready", "-", "tcp://127.0.0.1:%d" % port),
                           stdin=subprocess.PIPE)
        time.sleep(0.5)
        self.assertIsNone(relay.p.poll(), "it ended before the signal")
        relay.p.send_signal(signal.SIGTERM)
        self.assertEqual(relay.wait(10), 128 + signal.SIGTERM, relay.stderr())
        self.assertNotIn("not everything ended", relay.stderr())


# ---- the relay against socat and ncat ----------------------------------------------------

def socat_listen(addr):
    return [ARGS.socat, "-t", "30", addr, "-"]


class Interop(ToolTest):
    """A client peer and a server peer, each sending its own bytes and
    recording what it gets; each half-closes when it has sent everything.
    The relay between them must deliver both streams whole and pass each end
    on, so that both peers exit."""

    size_up, size_down = 3 << 20, 2 << 20

    def endpoint(self, transport, name):
        if transport == "tcp":
            port = free_port()
            return {"uri": "tcp://127.0.0.1:%d" % port, "socat_listen": "TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr" % port,
                    "ncat_listen": ["-l", "127.0.0.1", str(port)], "port": port}
        path = self.path(name)
        return {"uri": "unix://" + path, "socat_listen": "UNIX-LISTEN:" + path, "ncat_listen": ["-lU", path],
                "path": path}

    def peer_server(self, peer, ep, send, got):
        if peer == "socat":
            cmd = socat_listen(ep["socat_listen"])
        else:
            cmd = [ARGS.ncat] + ep["ncat_listen"]
        return self.start(cmd, stdin=send, stdout=got)

    def peer_client(self, peer, uri, send, got):
        if uri.startswith("tcp://"):
            host, port = uri[len("tcp://"):].rsplit(":", 1)
            socat_addr, ncat_args = "TCP:%s:%s" % (host, port), [host, port]
        else:
            path = uri[len("unix://"):]
            socat_addr, ncat_args = "UNIX-CONNECT:" + path, ["-U", path]
        cmd = [ARGS.socat, "-t", "30", "-", socat_addr] if peer == "socat" else [ARGS.ncat] + ncat_args
        return self.start(cmd, stdin=send, stdout=got)

    def wait_for_listener(self, ep):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if "path" in ep and os.path.exists(ep["path"]):
                return
            if "port" in ep:
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", ep["port"])) == 0:
                        # socat/ncat take that probe as their one connection: not used
                        raise AssertionError("probing would use up the peer's connection")
            time.sleep(0.02)
        raise AssertionError("the peer never listened on %s" % ep)

    def check(self, client_peer, server_peer, inbound, outbound, swap=False, extra=()):
        up, down = self.path("up"), self.path("down")
        with open(up, "wb") as f:
            f.write(pattern(self.size_up, 1))
        with open(down, "wb") as f:
            f.write(pattern(self.size_down, 2))
        server_ep = self.endpoint(outbound, "server.sock")
        server = self.peer_server(server_peer, server_ep, down, self.path("server-got"))
        # The peer's listener is up before the relay connects to it.
        if "path" in server_ep:
            self.wait_for_listener(server_ep)
        else:
            time.sleep(0.3)
        listen_ep = self.endpoint(inbound, "relay.sock")
        listen_uri = listen_ep["uri"].replace(":%d" % listen_ep.get("port", -1), ":0") if "port" in listen_ep else listen_ep["uri"]
        addrs = ["listen:" + listen_uri, server_ep["uri"]]
        if swap:
            addrs.reverse()
        relay = self.relay(*extra, *addrs)
        where = self.listening(relay)
        client = self.peer_client(client_peer, where, up, self.path("client-got"))
        self.assertEqual(client.wait(60), 0, client.stderr())
        self.assertEqual(server.wait(60), 0, server.stderr())
        self.assertEqual(relay.wait(30), 0, relay.stderr())
        with open(self.path("server-got"), "rb") as f:
            self.assertTrue(f.read() == pattern(self.size_up, 1), "client -> server bytes differ")
        with open(self.path("client-got"), "rb") as f:
            self.assertTrue(f.read() == pattern(self.size_down, 2), "server -> client bytes differ")
        log = relay.stderr()
        n_left, n_right = (self.size_down, self.size_up) if swap else (self.size_up, self.size_down)
        self.assertRegex(log, r"\[1\] closed after [0-9.]+ s: %d bytes .* -> .*, %d bytes back \((splice|copy)/"
                         % (n_left, n_right))
        return log

    def test_socat_tcp_to_unix(self):
        self.need(ARGS.socat, "socat")
        log = self.check("socat", "socat", "tcp", "unix")
        self.assertIn("(splice/copy)", log)  # splice(2) into the Unix socket, the copy loop into TCP

    def test_socat_unix_to_tcp_copy_loop(self):
        self.need(ARGS.socat, "socat")
        log = self.check("socat", "socat", "unix", "tcp", extra=["--splice", "never", "-b", "16K"])
        self.assertIn("(copy/copy)", log)

    def test_socat_tcp_to_tcp_listen_second(self):
        self.need(ARGS.socat, "socat")
        self.check("socat", "socat", "tcp", "tcp", swap=True)

    def test_ncat_tcp_to_unix(self):
        self.need(ARGS.ncat, "ncat")
        self.check("ncat", "ncat", "tcp", "unix")

    def test_ncat_unix_to_tcp(self):
        self.need(ARGS.ncat, "ncat")
        self.check("ncat", "ncat", "unix", "tcp", swap=True)

    def test_ncat_client_socat_server_idle_timeout_set(self):
        # With an idle timeout every wait has a deadline (non-blocking splice).
        self.need(ARGS.ncat, "ncat")
        self.need(ARGS.socat, "socat")
        self.check("ncat", "socat", "tcp", "tcp", extra=["--idle-timeout", "20s"])

    def test_socat_client_ncat_server_unix_unix(self):
        self.need(ARGS.ncat, "ncat")
        self.need(ARGS.socat, "socat")
        self.assertIn("(splice/splice)", self.check("socat", "ncat", "unix", "unix"))

    def test_socat_tcp_to_tcp_splice_always(self):
        self.need(ARGS.socat, "socat")
        self.assertIn("(splice/splice)", self.check("socat", "socat", "tcp", "tcp", extra=["--splice", "always"]))


class WineInterop(ToolTest):
    """The TCP relay as the Windows build runs it (under Wine: a real Winsock
    over the host's TCP), with socat peers on this side."""
    emulated = True

    def test_tcp_relay_with_socat_peers(self):
        self.need(ARGS.socat, "socat")
        up, down = pattern(1 << 20, 3), pattern(512 << 10, 4)
        with open(self.path("down"), "wb") as f:
            f.write(down)
        port = free_port()
        server = self.start(socat_listen("TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr" % port),
                            stdin=self.path("down"), stdout=self.path("server-got"))
        time.sleep(0.3)
        relay = self.relay("--stats", "listen:tcp://127.0.0.1:0", "tcp://127.0.0.1:%d" % port)
        where = self.listening(relay)
        host, rport = where[len("tcp://"):].rsplit(":", 1)
        with open(self.path("up"), "wb") as f:
            f.write(up)
        client = self.start([ARGS.socat, "-t", "30", "-", "TCP:%s:%s" % (host, rport)],
                            stdin=self.path("up"), stdout=self.path("client-got"))
        self.assertEqual(client.wait(60), 0, client.stderr())
        self.assertEqual(server.wait(60), 0, server.stderr())
        self.assertEqual(relay.wait(30), 0, relay.stderr())
        with open(self.path("server-got"), "rb") as f:
            self.assertTrue(f.read() == up)
        with open(self.path("client-got"), "rb") as f:
            self.assertTrue(f.read() == down)
        self.assertRegex(relay.stderr(), r"stats: 1 connection \(0 failed\), %d bytes left->right, %d bytes "
                                         r"right->left" % (len(up), len(down)))


class EverywhereRelay(ToolTest):
    """What the relay does on every platform, Windows under Wine included:
    stdin/stdout and a child's pipes (the tool itself as the child, relaying
    to a socat that upper-cases), and --fork with clients at once."""
    emulated = True

    def test_stdio_to_exec_to_tcp(self):
        self.need(ARGS.socat, "socat")
        port = free_port()
        self.start([ARGS.socat, "-t", "30", "TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr" % port,
                    "EXEC:tr a-z A-Z"])
        time.sleep(0.3)
        child = "vmsock.exe" if IS_WINDOWS_TOOL else ARGS.vmsock  # found beside the parent on Windows
        data = b"".join(b"line %d of the chain, lower case\n" % i for i in range(20000))
        p = subprocess.run(tool("cat", "-v", "-", "exec:%s cat - tcp://127.0.0.1:%d" % (child, port)),
                           input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(p.stdout == data.upper(), "%d bytes back of %d" % (len(p.stdout), len(data)))
        self.assertRegex(p.stderr.decode(), r"%d bytes stdio -> exec:.*, %d bytes back .*exit status 0"
                         % (len(data), len(data)))

    def test_fork_clients_at_once(self):
        echo = socket.socket()
        echo.bind(("127.0.0.1", 0))
        echo.listen(64)
        port = echo.getsockname()[1]

        def serve():
            while True:
                try:
                    c, _ = echo.accept()
                except OSError:
                    return
                threading.Thread(target=lambda c=c: (c.sendall(HalfClose.read_to_end(c)),
                                                     c.close()), daemon=True).start()

        threading.Thread(target=serve, daemon=True).start()
        relay = self.relay("--fork", "--stats", "listen:tcp://127.0.0.1:0", "tcp://127.0.0.1:%d" % port)
        host, rport = self.listening(relay)[len("tcp://"):].rsplit(":", 1)
        results = Fork.clients(self, host, int(rport), 10, 100_000)
        self.assertEqual(results, [True] * 10)
        relay.p.terminate()  # SIGTERM; on Windows TerminateProcess
        relay.wait(20)
        echo.close()
        if not IS_WINDOWS_TOOL:
            self.assertIn("stats: 10 connections (0 failed), 1000000 bytes left->right", relay.stderr())


# ---- half-close, step by step -------------------------------------------------------------

class HalfClose(ToolTest):
    """The two ends of the relay are Python sockets, so that who closes what,
    and when, is exact: a half-close either way is passed on, and the other
    direction keeps working after it."""

    def pair(self, *extra, transport="tcp"):
        server = socket.socket(socket.AF_INET) if transport == "tcp" else socket.socket(socket.AF_UNIX)
        if transport == "tcp":
            server.bind(("127.0.0.1", 0))
            target = "tcp://127.0.0.1:%d" % server.getsockname()[1]
        else:
            server.bind(self.path("hc.sock"))
            target = "unix://" + self.path("hc.sock")
        server.listen()
        server.settimeout(20)
        relay = self.relay(*extra, "listen:tcp://127.0.0.1:0", target)
        host, port = self.listening(relay)[len("tcp://"):].rsplit(":", 1)
        client = socket.create_connection((host, int(port)), timeout=20)
        conn, _ = server.accept()
        conn.settimeout(20)
        server.close()
        return relay, client, conn

    @staticmethod
    def read_to_end(s):
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                return b"".join(chunks)
            chunks.append(b)

    def half_close(self, *extra, transport="tcp", client_first=True):
        """The first sender sends and half-closes; its end must arrive, and
        the other way must still carry bytes (in two writes) and its own end."""
        relay, client, conn = self.pair(*extra, transport=transport)
        first, second = (client, conn) if client_first else (conn, client)
        first.sendall(b"request " * 1000)
        first.shutdown(socket.SHUT_WR)
        self.assertEqual(self.read_to_end(second), b"request " * 1000)  # the end arrived
        second.sendall(b"reply " * 50000)
        time.sleep(0.1)
        second.sendall(b"more")
        second.shutdown(socket.SHUT_WR)
        self.assertEqual(self.read_to_end(first), b"reply " * 50000 + b"more")
        client.close()
        conn.close()
        self.assertEqual(relay.wait(20), 0, relay.stderr())

    def client_first(self, *extra, transport="tcp"):
        self.half_close(*extra, transport=transport, client_first=True)

    def server_first(self, *extra, transport="tcp"):
        self.half_close(*extra, transport=transport, client_first=False)

    def test_client_half_closes_first_splice(self):
        self.client_first()

    def test_server_half_closes_first_splice(self):
        self.server_first(transport="unix")

    def test_client_half_closes_first_copy(self):
        self.client_first("--splice", "never", transport="unix")

    def test_server_half_closes_first_copy(self):
        self.server_first("--splice", "never")

    def test_with_deadlines(self):
        self.client_first("--idle-timeout", "30s")
        self.server_first("--idle-timeout", "30s", "--splice", "never", transport="unix")

    def test_idle_timeout_ends_the_relay(self):
        relay, client, conn = self.pair("--idle-timeout", "300ms")
        client.sendall(b"x")
        self.assertEqual(conn.recv(1), b"x")
        t0 = time.monotonic()
        self.assertEqual(relay.wait(10), 0, relay.stderr())
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(self.read_to_end(client), b"")  # the relay closed it
        self.assertIn("; idle timeout", relay.stderr())
        client.close()
        conn.close()

    def test_a_reset_is_a_failure(self):
        relay, client, conn = self.pair("--splice", "never")
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        client.close()  # RST
        self.assertEqual(relay.wait(20), 1)
        self.assertRegex(relay.stderr(), r"vmsock cat: receive from tcp://127.0.0.1:\d+: Connection reset by peer")
        conn.close()


# ---- 1 GiB through the relay -----------------------------------------------------------

class Bulk(ToolTest):
    def transfer(self, size, *extra):
        target = socket.socket(socket.AF_UNIX)
        target.bind(self.path("sink.sock"))
        target.listen()
        target.settimeout(20)
        relay = self.relay("--stats", *extra, "listen:tcp://127.0.0.1:0", "unix://" + self.path("sink.sock"))
        host, port = self.listening(relay)[len("tcp://"):].rsplit(":", 1)
        block = os.urandom(1 << 20)
        sums = {}

        def sink():
            conn, _ = target.accept()
            conn.settimeout(60)
            h = hashlib.blake2b()
            n = 0
            buf = bytearray(1 << 20)
            view = memoryview(buf)
            while True:
                k = conn.recv_into(buf)
                if not k:
                    break
                h.update(view[:k])
                n += k
            sums["received"] = (n, h.hexdigest())
            conn.close()

        t = threading.Thread(target=sink, daemon=True)
        t.start()
        src = socket.create_connection((host, int(port)), timeout=60)
        h = hashlib.blake2b()
        sent = 0
        i = 0
        t0 = time.monotonic()
        while sent < size:
            k = (i * 4099) % len(block)  # each chunk starts elsewhere: order matters
            chunk = (block[k:] + block[:k])[: min(len(block), size - sent)]
            src.sendall(chunk)
            h.update(chunk)
            sent += len(chunk)
            i += 1
        src.shutdown(socket.SHUT_WR)
        t.join(120)
        took = time.monotonic() - t0
        self.assertFalse(t.is_alive(), "the sink did not see the end")
        target.close()
        self.assertEqual(self.read_eof(src), b"")
        src.close()
        self.assertEqual(relay.wait(30), 0, relay.stderr())
        self.assertEqual(sums["received"], (size, h.hexdigest()))
        self.assertRegex(relay.stderr(), r"stats: 1 connection \(0 failed\), %d bytes left->right, 0 bytes" % size)
        sys.stderr.write("\n  %s: %d MiB in %.2f s (%.0f MB/s, including Python's hashing)\n"
                         % (self.id().split(".")[-1], size >> 20, took, size / took / 1e6))

    @staticmethod
    def read_eof(s):
        return s.recv(1)

    def test_1GiB_checksummed(self):
        self.transfer(ARGS.bulk_bytes)

    def test_256MiB_checksummed_copy_loop(self):
        self.transfer(min(ARGS.bulk_bytes, 256 << 20), "--splice", "never")


# ---- --fork ------------------------------------------------------------------------------

class EchoServer:
    """A threaded echo server on a Unix socket that counts how many
    connections it has at once."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.bind(path)
        self.s.listen(256)
        self.lock = threading.Lock()
        self.now = self.most = self.total = 0
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            try:
                c, _ = self.s.accept()
            except OSError:
                return
            threading.Thread(target=self.echo, args=(c,), daemon=True).start()

    def echo(self, c):
        with self.lock:
            self.now += 1
            self.total += 1
            self.most = max(self.most, self.now)
        try:
            c.settimeout(60)
            while True:
                b = c.recv(65536)
                if not b:
                    break
                c.sendall(b)
            c.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            c.close()
            with self.lock:
                self.now -= 1

    def close(self):
        self.s.close()


class Fork(ToolTest):
    def clients(self, host, port, n, size, hold=0.0):
        results = [None] * n
        barrier = threading.Barrier(n)

        def client(i):
            data = pattern(size, 100 + i)
            try:
                s = socket.create_connection((host, port), timeout=60)
                barrier.wait(30)  # all connected before any sends: really at once
                got = []

                def reader():
                    while True:
                        b = s.recv(65536)
                        if not b:
                            break
                        got.append(b)

                r = threading.Thread(target=reader)
                r.start()
                s.sendall(data[: size // 2])
                time.sleep(hold)
                s.sendall(data[size // 2:])
                s.shutdown(socket.SHUT_WR)
                r.join(60)
                s.close()
                results[i] = b"".join(got) == data
            except Exception as e:  # noqa: BLE001 - reported below
                results[i] = repr(e)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        return results

    def test_100_concurrent_clients(self):
        echo = EchoServer(self.path("echo.sock"))
        relay = self.start(tool("cat", "--fork", "--stats", "-v", "listen:tcp://127.0.0.1:0",
                                "unix://" + self.path("echo.sock")))
        host, port = self.listening(relay)[len("tcp://"):].rsplit(":", 1)
        results = self.clients(host, int(port), 100, 200_000, hold=0.2)
        bad = [(i, r) for i, r in enumerate(results) if r is not True]
        self.assertEqual(bad, [], "clients whose echo was lost or mixed")
        self.assertEqual(echo.total, 100)
        self.assertGreaterEqual(echo.most, 50, "the connections were not served at once")
        relay.p.send_signal(signal.SIGTERM)
        self.assertEqual(relay.wait(20), 128 + signal.SIGTERM, relay.stderr())
        log = relay.stderr()
        self.assertIn("stats: 100 connections (0 failed), 20000000 bytes left->right, 20000000 bytes right->left", log)
        self.assertEqual(len(re.findall(r"\] closed after .* 200000 bytes .* 200000 bytes back", log)), 100)
        echo.close()

    def test_max_connections_and_exec(self):
        relay = self.start(tool("cat", "--fork", "--max-connections", "4", "--stats", "-v",
                                "listen:unix://" + self.path("relay.sock"), "exec:cat"))
        self.listening(relay)
        port_file = self.path("relay.sock")
        results = [None] * 12

        def client(i):
            data = pattern(50_000, 300 + i)
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(30)
            s.connect(port_file)
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            got = HalfClose.read_to_end(s)
            s.close()
            results[i] = got == data

        threads = [threading.Thread(target=client, args=(i,)) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(results, [True] * 12)
        relay.p.send_signal(signal.SIGINT)
        self.assertEqual(relay.wait(20), 128 + signal.SIGINT)
        log = relay.stderr()
        self.assertIn("stats: 12 connections (0 failed)", log)
        self.assertEqual(log.count("exec:cat: exit status 0"), 12)
        # Never more than 4 children at once: each start comes after an end
        # once four are running.
        running = most = 0
        for line in log.splitlines():
            if "started exec:cat" in line:
                running += 1
            elif "] closed after" in line:
                running -= 1
            most = max(most, running)
        self.assertLessEqual(most, 4)
        self.assertGreaterEqual(most, 2)

    def test_failed_connections_are_logged_and_the_server_goes_on(self):
        # Without -v nothing but failures is logged: the port is chosen here.
        port = free_port()
        dead = free_port()
        relay = self.start(tool("cat", "--fork", "--stats", "listen:tcp://127.0.0.1:%d" % port,
                                "tcp://127.0.0.1:%d" % dead))
        for _ in range(3):
            deadline = time.monotonic() + 10
            while True:
                try:
                    s = socket.create_connection(("127.0.0.1", port), timeout=5)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            s.settimeout(10)
            self.assertEqual(s.recv(1), b"")  # closed: the other side was refused
            s.close()
        relay.p.send_signal(signal.SIGTERM)
        self.assertEqual(relay.wait(20), 143)
        log = relay.stderr()
        self.assertEqual(log.count("connect to tcp://127.0.0.1:%d: Connection refused" % dead), 3)
        self.assertIn("stats: 3 connections (3 failed)", log)


# ---- stdio, exec:, udp:// and signals ---------------------------------------------------

class StdioExec(ToolTest):
    def test_stdin_stdout_through_tcp(self):
        echo = EchoServer(self.path("echo.sock"))
        data = pattern(3 << 20, 7)
        p = subprocess.run(tool("cat", "-", "unix://" + self.path("echo.sock")), input=data,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(p.stdout == data)
        self.assertEqual(p.stderr, b"")
        echo.close()

    def test_exec_filter(self):
        p = subprocess.run(tool("cat", "-v", "-", "exec:tr a-z A-Z"), input=b"hello\nworld\n",
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual((p.returncode, p.stdout), (0, b"HELLO\nWORLD\n"), p.stderr)
        self.assertRegex(p.stderr.decode(), r"\[1\] closed after [0-9.]+ s: 12 bytes stdio -> exec:tr a-z A-Z, "
                                             r"12 bytes back \(copy/copy\); exec:tr a-z A-Z: exit status 0")

    def test_exec_behind_a_listener(self):
        relay = self.relay("listen:tcp://127.0.0.1:0", "exec:sed s/ping/pong/")
        host, port = self.listening(relay)[len("tcp://"):].rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=20)
        s.sendall(b"ping\n")
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(HalfClose.read_to_end(s), b"pong\n")
        s.close()
        self.assertEqual(relay.wait(20), 0, relay.stderr())
        self.assertIn("exit status 0", relay.stderr())

    def test_exec_output_ends_first(self):
        # The child ends its output before reading everything: its end is
        # passed on, and the other direction still ends.
        p = subprocess.run(tool("cat", "-", "exec:head -c 5; cat >/dev/null"), input=b"0123456789" * 1000,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual((p.returncode, p.stdout), (0, b"01234"), p.stderr)

    def test_exec_child_status_in_the_log(self):
        p = subprocess.run(tool("cat", "-v", "-", "exec:exit 3"), input=b"",
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"exec:exit 3: exit status 3", p.stderr)

    def test_udp(self):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        u.settimeout(10)

        def echo():
            for _ in range(2):
                try:
                    d, a = u.recvfrom(65536)
                except OSError:
                    return
                u.sendto(d.upper(), a)

        t = threading.Thread(target=echo, daemon=True)
        t.start()
        relay = self.start(tool("cat", "-", "udp://127.0.0.1:%d" % u.getsockname()[1]),
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        relay.p.stdin.write(b"ping")
        relay.p.stdin.flush()
        self.assertEqual(relay.p.stdout.read(4), b"PING")
        relay.p.stdin.write(b"pong")
        relay.p.stdin.close()
        t0 = time.monotonic()
        self.assertEqual(relay.wait(10), 0, relay.stderr())
        self.assertEqual(relay.p.stdout.read(), b"PONG")
        self.assertLess(time.monotonic() - t0, 5)
        u.close()

    def test_sigterm_ends_a_relay(self):
        relay = self.start(tool("cat", "--stats", "listen:tcp://127.0.0.1:%d" % free_port(), "exec:cat"))
        time.sleep(0.3)
        relay.p.send_signal(signal.SIGTERM)
        self.assertEqual(relay.wait(10), 143, relay.stderr())
        self.assertIn("stats: 0 connections", relay.stderr())


# ---- hybrid vsock: `vmsock cat` with hybrid-vsock:// and `vmsock mux` ----------------------

FIRST_NUMBER = 1 << 30  # Firecracker's first host-side port, the first "OK <n>"


class TcpEcho:
    """A threaded echo server on 127.0.0.1 (an ephemeral port) that passes a
    half-close on: at the end of a client's stream it shuts its own write end
    down."""

    def __init__(self):
        self.s = socket.socket()
        self.s.bind(("127.0.0.1", 0))
        self.s.listen(256)
        self.port = self.s.getsockname()[1]
        self.lock = threading.Lock()
        self.total = 0
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            try:
                c, _ = self.s.accept()
            except OSError:
                return
            with self.lock:
                self.total += 1
            threading.Thread(target=self.echo, args=(c,), daemon=True).start()

    @staticmethod
    def echo(c):
        try:
            c.settimeout(60)
            while True:
                b = c.recv(65536)
                if not b:
                    break
                c.sendall(b)
            c.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.s.close()


def read_line(s, limit=64):
    """Bytes up to and with the first '\\n', read one at a time (never past it)."""
    got = b""
    while not got.endswith(b"\n") and len(got) < limit:
        b = s.recv(1)
        if not b:
            break
        got += b
    return got


def read_until_closed(s):
    """Everything until the peer closes: (bytes, "eof" or "reset").  A Unix
    socket closed with bytes of ours still unread reads as a reset."""
    chunks = []
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return b"".join(chunks), "eof"
            chunks.append(b)
    except ConnectionResetError:
        return b"".join(chunks), "reset"


class HybridTest(ToolTest):
    def unix_client(self, path, data=b"", timeout=20):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(timeout)
        s.connect(path)
        if data:
            s.sendall(data)
        self.addCleanup(s.close)
        return s

    def echo(self):
        e = TcpEcho()
        self.addCleanup(e.close)
        return e

    def mux(self, *opts, target="tcp://127.0.0.1", name="fc.sock"):
        """Starts `vmsock mux -v OPTS PATH TARGET`; returns it and PATH once it listens."""
        path = self.path(name)
        p = self.start(tool("mux", "-v", *opts, path, target))
        p.wait_line(r"listening on unix://")
        return p, path

    def request(self, path, port, after=b""):
        """A hand-written hybrid client: the line (and `after`) in one write,
        then the answer line.  Returns (socket, the number after OK)."""
        s = self.unix_client(path, b"CONNECT %d\n" % port + after)
        answer = read_line(s)
        m = re.match(rb"^OK (\d+)\n$", answer)
        self.assertTrue(m, "answer %r" % answer)
        return s, int(m.group(1))

    def assert_closed_silently(self, s, what):
        got, how = read_until_closed(s)
        self.assertEqual(got, b"", "%s: the mux answered %r" % (what, got))
        return how

    def stop(self, mux, sig=signal.SIGTERM):
        mux.p.send_signal(sig)
        self.assertEqual(mux.wait(20), 0, mux.stderr())
        return mux.stderr()


class HybridCat(HybridTest):
    """`vmsock cat` with hybrid-vsock:// on either side, against a VMM written
    here by hand (a Unix listener that answers CONNECT as Firecracker does)."""

    def fake_vmm(self, path, answer_for):
        """Serves one connection: reads the line one byte at a time, then
        sends answer_for(line) (None: closes without a word) and echoes."""
        srv = socket.socket(socket.AF_UNIX)
        srv.bind(path)
        srv.listen()
        srv.settimeout(20)
        self.addCleanup(srv.close)
        seen = []

        def serve():
            try:
                c, _ = srv.accept()
            except OSError:
                return
            c.settimeout(20)
            line = read_line(c)
            seen.append(line)
            reply = answer_for(line)
            if reply is None:
                c.close()
                return
            c.sendall(reply)
            try:
                TcpEcho.echo(c)
            except OSError:
                pass

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        return seen, t

    def test_connect_makes_the_handshake_and_keeps_what_follows_the_answer(self):
        path = self.path("vmm.sock")
        # The answer and the guest's first bytes in one write: nothing after
        # the answer's '\n' may be lost.
        seen, t = self.fake_vmm(path, lambda line: b"OK 1073741824\nhello from the guest\n")
        data = pattern(1 << 20, 11)
        p = subprocess.run(tool("cat", "-v", "-", "hybrid-vsock://%s:5000" % path), input=data,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        t.join(10)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(seen, [b"CONNECT 5000\n"])
        self.assertTrue(p.stdout == b"hello from the guest\n" + data, "%d bytes back" % len(p.stdout))
        self.assertIn("connected to hybrid-vsock://%s:5000" % path, p.stderr.decode())

    def test_a_silent_close_is_refused(self):
        path = self.path("vmm.sock")
        self.fake_vmm(path, lambda line: None)
        code, out, err = run("cat", "-", "hybrid-vsock://%s:5001" % path)
        self.assertEqual((code, out), (1, ""))
        self.assertRegex(err, r"^vmsock cat: connect to hybrid-vsock://%s:5001: connection refused: the "
                              r"VMM closed .*\n$" % re.escape(path))

    def test_listen_serves_the_guests_connection_on_path_port(self):
        path = self.path("vmm.sock")
        cat = self.start(tool("cat", "-v", "listen:hybrid-vsock://%s:6000" % path, "-"),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.assertEqual(self.listening(cat), "hybrid-vsock://%s:6000" % path)
        # The VMM's side of a guest's connect to host port 6000: "<path>_6000".
        vmm = self.unix_client(path + "_6000", b"from the guest")
        vmm.shutdown(socket.SHUT_WR)
        self.assertEqual(cat.p.stdout.read(14), b"from the guest")
        cat.p.stdin.write(b"from the host")
        cat.p.stdin.close()
        self.assertEqual(HalfClose.read_to_end(vmm), b"from the host")
        self.assertEqual(cat.wait(20), 0, cat.stderr())
        self.assertIn("accepted a Unix peer on unix://%s_6000" % path, cat.stderr())
        self.assertFalse(os.path.exists(path + "_6000"), "the socket file was left behind")


class MuxProtocol(HybridTest):
    """`vmsock mux` in front of TCP on 127.0.0.1 (the CONNECT port is the TCP
    port): what a Firecracker client sees."""

    def test_hand_written_client_and_the_numbers(self):
        echo = self.echo()
        mux, path = self.mux()
        numbers = []
        held = []
        for i in range(3):
            s, n = self.request(path, echo.port)
            s.sendall(b"ping %d" % i)
            self.assertEqual(s.recv(64), b"ping %d" % i)
            numbers.append(n)
            held.append(s)  # open at once: each number is its own
        held[0].close()
        s, n = self.request(path, echo.port)  # after one has ended
        numbers.append(n)
        self.assertGreaterEqual(numbers[0], FIRST_NUMBER)
        self.assertEqual(numbers, sorted(set(numbers)), "the OK numbers do not count up: %s" % numbers)
        for x in held[1:] + [s]:
            x.close()
        log = self.stop(mux)
        self.assertIn("CONNECT %d -> tcp://127.0.0.1:%d: OK %d" % (echo.port, echo.port, numbers[0]), log)

    def test_bytes_in_the_same_write_as_the_line_arrive(self):
        echo = self.echo()
        mux, path = self.mux()
        data = pattern(300_000, 3)
        s, _ = self.request(path, echo.port, after=data)
        s.shutdown(socket.SHUT_WR)  # passed on: the echo server ends too
        self.assertTrue(HalfClose.read_to_end(s) == data)
        s.close()
        mux.wait_line(r"\] closed after [0-9.]+ s: 300000 bytes client pid \d+ -> "
                      r"tcp://127.0.0.1:%d, 300000 bytes back \(copy/splice\)$" % echo.port)
        self.stop(mux)

    def test_a_line_in_pieces_with_bytes_right_after_it(self):
        # The mux peeks and takes exactly the line: what follows its '\n' in
        # the same write, after pieces that came apart, goes to the guest.
        echo = self.echo()
        mux, path = self.mux()
        data = pattern(5000, 4)
        for pieces in ([b"C", b"ONNECT %d" % echo.port, b"\n" + data],
                       [b"CONNECT %d" % echo.port, b"\n" + data],
                       [b"X\n" + data]):  # shorter than "CONNECT 0\n": taken alone, refused
            s = self.unix_client(path)
            for p in pieces:
                s.sendall(p)
                time.sleep(0.02)  # separate segments, most likely
            if pieces[0] == b"X\n" + data:
                self.assert_closed_silently(s, pieces[0])
                mux.wait_line(re.escape('malformed request "X\\n"'))
                continue
            answer = read_line(s)
            self.assertTrue(re.match(rb"^OK \d+\n$", answer), "answer %r" % answer)
            got = b""
            while len(got) < len(data):
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            self.assertEqual(got, data)
            s.close()
        self.stop(mux)

    def test_vmsock_cat_through_the_mux(self):
        echo = self.echo()
        mux, path = self.mux()
        data = pattern(2 << 20, 5)
        p = subprocess.run(tool("cat", "-", "hybrid-vsock://%s:%d" % (path, echo.port)), input=data,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(p.stdout == data, "%d of %d bytes back" % (len(p.stdout), len(data)))
        # Refused: the mux closes without a word, and cat says so.
        dead = free_port()
        code, out, err = run("cat", "-", "hybrid-vsock://%s:%d" % (path, dead))
        self.assertEqual((code, out), (1, ""))
        self.assertIn("connection refused: the VMM closed", err)
        self.stop(mux)

    def test_socat_as_the_client(self):
        self.need(ARGS.socat, "socat")
        echo = self.echo()
        mux, path = self.mux()
        data = pattern(100_000, 9)
        p = subprocess.run([ARGS.socat, "-t", "10", "-", "UNIX-CONNECT:" + path],
                           input=b"CONNECT %d\n" % echo.port + data,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        m = re.match(rb"OK (\d+)\n", p.stdout)
        self.assertTrue(m, p.stdout[:40])
        self.assertGreaterEqual(int(m.group(1)), FIRST_NUMBER)
        self.assertTrue(p.stdout[m.end():] == data)
        self.stop(mux)

    def test_firecracker_spellings_are_accepted(self):
        echo = self.echo()
        mux, path = self.mux()
        p = b"%d" % echo.port
        lines = [b"connect " + p + b"\n", b"Connect\t+00" + p + b" x y\r\n",
                 b"  CONNECT  " + p + b"\n",
                 # exactly 32 bytes with its '\n' (leading zeros pad it)
                 b"CONNECT " + p.rjust(23, b"0") + b"\n"]
        self.assertEqual(len(lines[-1]), 32)
        for line in lines:
            s = self.unix_client(path, line + b"x")
            self.assertRegex(read_line(s), rb"^OK \d+\n$", line)
            self.assertEqual(s.recv(1), b"x", line)
            s.close()
        self.stop(mux)

    def test_refusals_close_without_a_word(self):
        echo = self.echo()
        mux, path = self.mux()
        dead = free_port()
        cases = [
            (b"GET / HTTP/1.0\r\n\r\n", "not a CONNECT request"),
            (b"CONNECT\n", "shorter than"),
            (b"CONNECT abc\n", "not a decimal number"),
            (b"CONNECT -5000\n", "not a decimal number"),
            (b"CONNECT 4294967296\n", "does not fit in 32 bits"),
            (b"CONNEC 5000\n\n", "not a CONNECT request"),
            (b"CONNECT \xff5000\n", "not ASCII"),
            (b"CONNECT %d\n" % dead, "Connection refused"),    # nothing listens there
            (b"CONNECT 70000\n", "is not a TCP port"),
        ]
        for line, why in cases:
            s = self.unix_client(path, line)
            self.assert_closed_silently(s, line)
            s.close()
            mux.wait_line(re.escape(why))
        # The mux goes on.
        s, n = self.request(path, echo.port)
        s.close()
        log = self.stop(mux)
        self.assertIn("malformed request \"GET / HTTP/1.0\\r\\n\"", log)
        self.assertIn("CONNECT %d: connect to tcp://127.0.0.1:%d: Connection refused: closed without an answer"
                      % (dead, dead), log)
        self.assertIn("10 requests (1 relayed, 7 malformed, 0 unfinished, 2 not connected)", log)

    def test_an_over_long_line(self):
        echo = self.echo()
        mux, path = self.mux()
        for line in (b"CONNECT " + (b"%d" % echo.port).rjust(24, b"0") + b"\n",  # 33 bytes
                     b"CONNECT %d" % echo.port + b" " * 100 + b"\n"):
            s = self.unix_client(path, line)
            self.assert_closed_silently(s, line)
            s.close()
        mux.wait_line(r"request longer than 32 bytes \"CONNECT 0+%d\": closed" % echo.port)
        log = self.stop(mux)
        self.assertIn("2 requests (0 relayed, 2 malformed", log)
        self.assertEqual(echo.total, 0)

    def test_unix_prefix_target(self):
        prefix = self.path("svc")
        EchoServer(prefix + "_7")
        mux, path = self.mux(target="unix://" + prefix)
        s, _ = self.request(path, 7, after=b"over unix")
        self.assertEqual(s.recv(64), b"over unix")
        s.close()
        s = self.unix_client(path, b"CONNECT 8\n")  # no socket file
        self.assert_closed_silently(s, "port 8")
        self.assertIn("CONNECT 8: connect to unix://%s_8: " % prefix, self.stop(mux))


class MuxLimits(HybridTest):
    """Deadlines, the connection cap, signals and the socket file."""

    def test_an_unfinished_line_is_dropped_at_its_deadline(self):
        echo = self.echo()
        mux, path = self.mux("--request-timeout", "300ms")
        slow = self.unix_client(path, b"CONN")
        mute = self.unix_client(path)
        for s in (slow, mute):
            self.assert_closed_silently(s, "an unfinished line")
        mux.wait_line(r"no complete request line within 0.300 s \"CONN\": dropped")
        mux.wait_line(r"no complete request line within 0.300 s \"\": dropped")
        s, _ = self.request(path, echo.port)  # a prompt one is served
        s.close()
        self.assertIn("3 requests (1 relayed, 0 malformed, 2 unfinished", self.stop(mux))

    def test_the_cap(self):
        echo = self.echo()
        mux, path = self.mux("--max-connections", "2")
        a, _ = self.request(path, echo.port)
        b, _ = self.request(path, echo.port)
        c = self.unix_client(path, b"CONNECT %d\n" % echo.port)
        self.assert_closed_silently(c, "the third connection")
        mux.wait_line(r"2 connections already: accepted on unix://\S+ and closed")
        a.close()
        mux.wait_line(r"\[1\] closed after")
        d, _ = self.request(path, echo.port)  # a place is free again
        d.sendall(b"still served")
        self.assertEqual(d.recv(64), b"still served")
        for s in (b, d):
            s.close()
        log = self.stop(mux)
        self.assertIn("3 requests (3 relayed, 0 malformed, 0 unfinished, 0 not connected), 1 closed at the cap", log)

    def test_sigterm_and_sigint_stop_cleanly(self):
        echo = self.echo()
        for sig in (signal.SIGTERM, signal.SIGINT):
            mux, path = self.mux(name="stop-%d.sock" % sig)
            relayed, _ = self.request(path, echo.port)    # a relay in progress
            waiting = self.unix_client(path, b"CONN")       # a line in progress
            mux.wait_line(r"OK \d+")
            time.sleep(0.2)
            self.assertTrue(os.path.exists(path))
            log = self.stop(mux, sig)
            self.assertFalse(os.path.exists(path), "the socket file was left behind")
            self.assertIn("stopped by signal %d" % sig, log)
            self.assertNotIn("did not end", log)
            for s in (relayed, waiting):
                self.assertEqual(read_until_closed(s)[0], b"")
                s.close()

    def test_stale_socket_file_replaced_live_one_refused(self):
        echo = self.echo()
        path = self.path("fc.sock")
        stale = socket.socket(socket.AF_UNIX)
        stale.bind(path)  # a socket file nothing listens on
        stale.close()
        mux, _ = self.mux()
        s, _ = self.request(path, echo.port)
        s.close()
        code, out, err = run("mux", path, "tcp://127.0.0.1")  # the mux above is live there
        self.assertEqual((code, out), (1, ""))
        self.assertTrue(err.startswith("vmsock mux: listen_all: listen on unix://%s: " % path), err)
        self.assertTrue(err.endswith("\n") and err.count("\n") == 1, err)
        self.stop(mux)


class MuxUsage(ToolTest):
    """Usage errors exit 2 with one line, before any socket is opened (the
    vsock:// cases never reach a listen: each fails in its arguments, and
    their UDS_PATH is in a directory that does not exist)."""

    def test_each_usage_error(self):
        nowhere = os.path.join(self.dir, "no-such-dir", "fc.sock")
        long_path = "/tmp/" + "a" * 98  # 103 bytes: fits alone, not with "_5000"
        cases = [
            (["mux"], "vmsock mux: UDS_PATH and TARGET are needed, got 0 arguments"),
            (["mux", nowhere], "vmsock mux: UDS_PATH and TARGET are needed, got 1 argument\n"),
            (["mux", nowhere, "tcp://127.0.0.1", "x"], "vmsock mux: UDS_PATH and TARGET are needed, got 3"),
            (["mux", "", "tcp://127.0.0.1"], "vmsock mux: UDS_PATH is empty"),
            (["mux", "/tmp/" + "a" * 110, "tcp://127.0.0.1"], "vmsock mux: UDS_PATH: Unix socket path "),
            (["mux", nowhere, "3"], "vmsock mux: TARGET '3' is not a URI: expected vsock://CID or "
                                    "hvsock://VM-ID (tcp://HOST or unix:///PREFIX for tests and proxies)"),
            (["mux", nowhere, "udp://127.0.0.1"], "vmsock mux: TARGET 'udp://127.0.0.1': expected vsock://CID"),
            (["mux", nowhere, "hybrid-vsock:///run/fc.vsock"], "vmsock mux: TARGET 'hybrid-vsock:///run/fc.vsock': expected"),
            (["mux", nowhere, "vsock://3:5000"],
             "vmsock mux: TARGET 'vsock://3:5000' names no port: each CONNECT line names one (vsock://CID)"),
            (["mux", nowhere, "vsock://any"], "vmsock mux: TARGET 'vsock://any': 'any' is no VM; give the guest's CID"),
            (["mux", nowhere, "vsock://x"], "vmsock mux: TARGET 'vsock://x': CID is neither"),
            (["mux", nowhere, "hvsock://wildcard"], "vmsock mux: TARGET 'hvsock://wildcard': the wildcard is no VM"),
            (["mux", nowhere, "hvsock://6e5a1a7c-3e7c-4f46-a0b2-0f6f3b6d8a11/5000"],
             "vmsock mux: TARGET 'hvsock://6e5a1a7c-3e7c-4f46-a0b2-0f6f3b6d8a11/5000' names no port"),
            (["mux", nowhere, "tcp://127.0.0.1:80"], "vmsock mux: TARGET 'tcp://127.0.0.1:80' names no port"),
            (["mux", nowhere, "tcp://[::1]:80"], "vmsock mux: TARGET 'tcp://[::1]:80' names no port"),
            (["mux", nowhere, "tcp://localhost"], "vmsock mux: TARGET 'tcp://localhost': host names are not resolved"),
            (["mux", nowhere, "unix://"], "vmsock mux: TARGET 'unix://': "),
            (["mux", "--guest-port", "5000", nowhere, "tcp://127.0.0.1"],
             "vmsock mux: --guest-port needs a VM as TARGET (vsock://CID or hvsock://VM-ID); tcp://127.0.0.1 "
             "has no guest to listen for"),
            (["mux", "--guest-port", "5000", nowhere, "unix:///tmp/p"], "vmsock mux: --guest-port needs a VM"),
            (["mux", "--guest-port", "5000", "--guest-port=5000", nowhere, "vsock://3"],
             "vmsock mux: --guest-port: port 5000 given twice"),
            (["mux", "--guest-port", "0xffffffff", nowhere, "vsock://3"],
             "vmsock mux: --guest-port: '0xffffffff' is out of range (0 to 4294967294)"),
            (["mux", "--guest-port", "six", nowhere, "vsock://3"], "vmsock mux: --guest-port 'six' is not a number"),
            (["mux", nowhere, "vsock://3", "--guest-port"], "vmsock mux: option --guest-port needs a value"),
            (["mux", "--guest-port", "2147483648", nowhere, "hvsock://6e5a1a7c-3e7c-4f46-a0b2-0f6f3b6d8a11"],
             "vmsock mux: --guest-port 2147483648: Hyper-V service port"),
            (["mux", "--guest-port", "5000", long_path, "vsock://3"], "vmsock mux: --guest-port 5000: hybrid vsock path"),
            (["mux", "--max-connections", "0", nowhere, "tcp://127.0.0.1"],
             "vmsock mux: --max-connections: '0' is out of range (1 to 1048576)"),
            (["mux", "--request-timeout", "soon", nowhere, "tcp://127.0.0.1"],
             "vmsock mux: --request-timeout: 'soon' is not a duration"),
            (["mux", "--connect-timeout=0", nowhere, "tcp://127.0.0.1"], "vmsock mux: --connect-timeout: '0' is out of range"),
            (["mux", "--splice", "maybe", nowhere, "tcp://127.0.0.1"], "vmsock mux: --splice: 'maybe' is not auto"),
            (["mux", "-v=yes", nowhere, "tcp://127.0.0.1"], "vmsock mux: unknown option '-v=yes'"),
            (["mux", "--verbose=yes", nowhere, "tcp://127.0.0.1"], "vmsock mux: option --verbose takes no value"),
            (["mux", "--frob", nowhere, "tcp://127.0.0.1"], "vmsock mux: unknown option '--frob'"),
        ]
        for (args, message), (code, out, err) in zip(cases, run_many([args for args, _ in cases])):
            self.assertEqual(code, 2, "%s: %s" % (args, err))
            self.assertEqual(out, "", args)
            self.assertTrue(err.endswith("\n") and err.count("\n") == 1, "not one line: %r" % err)
            self.assertTrue(err.startswith(message), "%s:\n  got:  %r\n  want: %r" % (args, err, message))
        self.assertFalse(os.path.exists(os.path.dirname(nowhere)))

    def test_help(self):
        for flag in ("--help", "-h"):
            code, out, err = run("mux", flag)
            self.assertEqual((code, err), (0, ""))
            self.assertTrue(out.startswith("usage: vmsock mux [options] UDS_PATH TARGET\n"), out)
            for word in ("--guest-port", "--max-connections", "1023", "for tests and proxies", "tcp://HOST",
                         "unix:///PREFIX", "hvsock://VM-ID", "vsock://CID"):
                self.assertIn(word, out)
        self.assertEqual(run("help", "mux")[1], run("mux", "--help")[1])
        self.assertIn("  mux UDS_PATH TARGET", run("--help")[1])
        self.assertIn("hybrid-vsock:///UDS:PORT", run("cat", "--help")[1])


class Install(ToolTest):
    def test_cmake_install_puts_the_tool_in_bin(self):
        if not ARGS.build_dir:
            self.skipTest("no --build-dir")
        prefix = self.path("prefix")
        p = subprocess.run([ARGS.cmake, "--install", ARGS.build_dir, "--prefix", prefix,
                            "--component", "vmsock_tool"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout.decode())
        exe = os.path.join(prefix, "bin", os.path.basename(ARGS.vmsock))
        self.assertTrue(os.path.isfile(exe), os.listdir(prefix))
        q = subprocess.run(ARGS.emulator + [exe, "port2guid", "5000"], stdout=subprocess.PIPE, timeout=30)
        self.assertEqual(q.stdout, b"00001388-facb-11e6-bd58-64006a7986d3\n")


def keep_wineserver():
    """Under cmake/toolchains/wine-run.sh: a wineserver started by the first
    run of the tool inherits that run's stdout and stderr, and a caller that
    reads them to their end (subprocess.run) waits until the server exits,
    3 s after each run.  So one is started first with nothing inherited, and
    kept for 30 s after the last program of the prefix ends."""
    em = ARGS.emulator
    if len(em) < 3 or not em[0].endswith("wine-run.sh"):
        return
    loader, prefix = em[1], em[2]
    quiet = dict(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(tool("--version"), timeout=300, **quiet)  # makes the prefix if it is new
    server = os.path.join(os.path.dirname(loader), "wineserver")
    if os.path.exists(server):
        # Exits at once (status 2) when the prefix's server is already running.
        subprocess.run([server, "-p30"], env=dict(os.environ, WINEPREFIX=prefix), timeout=60, **quiet)


def measure_startup():
    """How long one start of the tool takes here: the fastest of three
    `--version` runs, printed so that a slow case can be read against it."""
    global STARTUP
    times = []
    for _ in range(3):
        t0 = time.monotonic()
        subprocess.run(tool("--version"), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=120)
        times.append(time.monotonic() - t0)
    STARTUP = min(times)
    print("one start of the tool takes %.2f s here (fastest of %s)"
          % (STARTUP, ", ".join("%.2f" % t for t in times)), file=sys.stderr, flush=True)


def main():
    global ARGS, IS_WINDOWS_TOOL
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vmsock", required=True)
    ap.add_argument("--emulator", default="", help="the command the tool runs under, its words separated by '|'")
    ap.add_argument("--socat", default=shutil.which("socat"))
    ap.add_argument("--ncat", default=shutil.which("ncat"))
    ap.add_argument("--cmake", default=shutil.which("cmake"))
    ap.add_argument("--build-dir", default="")
    ap.add_argument("--bulk-bytes", type=int, default=1 << 30)
    ARGS, rest = ap.parse_known_args()
    ARGS.emulator = [x for x in ARGS.emulator.split("|") if x]
    IS_WINDOWS_TOOL = ARGS.vmsock.lower().endswith(".exe")
    # A ThreadSanitizer build waits 1 s at every exit by default (for threads
    # to finish their reports): the tool is run a few hundred times here.
    tsan = os.environ.get("TSAN_OPTIONS", "")
    if "atexit_sleep_ms" not in tsan:
        os.environ["TSAN_OPTIONS"] = (tsan + ":" if tsan else "") + "atexit_sleep_ms=0"
    keep_wineserver()
    measure_startup()
    unittest.main(argv=[sys.argv[0], "-v"] + rest)


if __name__ == "__main__":
    main()
