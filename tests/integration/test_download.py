"""Media downloads: streamed to disk, capped, typed by their bytes, http(s) only, within one
deadline, and only from public addresses or the link's own hosts (issue 10)."""

from __future__ import annotations

import io
import os
import re
import select
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from birdbridge.media.addresses import refusal
from birdbridge.media.download import DownloadError, download
from birdbridge.media.workdir import process_workdir
from birdbridge.sandbox.common import Response
from birdbridge.sandbox.x import XSandbox

# The sandboxes listen on 127.0.0.1 and a link names them so in its api_base_url: that is the
# host the operator chose, which downloads may reach although it is a loopback address.
SANDBOX = frozenset({"127.0.0.1"})


def served_picture(x: XSandbox, size: int = 64) -> str:
    x.create_user("alice")
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), "red").save(buffer, "PNG")
    post = x.create_post("alice", "pic", media=[{"type": "photo", "data": buffer.getvalue()}])
    key = post["attachments"]["media_keys"][0]
    return f"{x.url}/media/{key}.png"


def test_download_streams_to_disk_and_sniffs_the_type(x_sandbox: XSandbox, tmp_path: Path) -> None:
    url = served_picture(x_sandbox)
    result = download(url, tmp_path / "file.bin", max_bytes=10_000_000, allowed_hosts=SANDBOX)
    assert result.mime == "image/png" and result.size == (tmp_path / "file.bin").stat().st_size


def test_download_over_the_cap_is_aborted_and_leaves_nothing(
    x_sandbox: XSandbox, tmp_path: Path
) -> None:
    url = served_picture(x_sandbox, size=400)
    with pytest.raises(DownloadError, match=r"limit|more than"):
        download(url, tmp_path / "file.bin", max_bytes=1000, allowed_hosts=SANDBOX)
    assert not (tmp_path / "file.bin").exists()


def test_only_http_urls_are_fetched(tmp_path: Path) -> None:
    for url in ("file:///etc/passwd", "ftp://example.com/a.jpg", "javascript:alert(1)"):
        with pytest.raises(DownloadError, match="not an http"):
            download(url, tmp_path / "file.bin", max_bytes=1000)


def test_server_errors_and_dropped_connections_are_download_errors(
    x_sandbox: XSandbox, tmp_path: Path
) -> None:
    url = served_picture(x_sandbox)
    x_sandbox.add_fault(kind="status", status=404, method="GET", path="^/media/")
    with pytest.raises(DownloadError, match="404"):
        download(url, tmp_path / "a.bin", max_bytes=10_000_000, allowed_hosts=SANDBOX)
    x_sandbox.add_fault(kind="drop", method="GET", path="^/media/")
    with pytest.raises(DownloadError):
        download(url, tmp_path / "b.bin", max_bytes=10_000_000, allowed_hosts=SANDBOX)
    x_sandbox.add_fault(kind="timeout", method="GET", path="^/media/", delay=2)
    with pytest.raises(DownloadError):
        download(url, tmp_path / "c.bin", max_bytes=10_000_000, allowed_hosts=SANDBOX, timeout=0.3)


def test_leftovers_of_a_killed_process_are_swept_even_with_the_same_pid(tmp_path: Path) -> None:
    """In a container every run is PID 1: a folder named after a pid that is alive again
    must still be swept when no process holds it."""
    killed = tmp_path / "birdbridge-media" / f"{os.getpid()}-deadbeef"
    killed.mkdir(parents=True)
    (killed / ".lock").write_bytes(b"")  # its process died: nobody holds the lock
    (killed / "half-downloaded.mp4").write_bytes(b"x" * 1000)
    older = tmp_path / "birdbridge-media" / "1"  # a folder of an older version (no lock file)
    older.mkdir()
    mine = process_workdir(tmp_path)
    assert not killed.exists() and not older.exists()
    assert mine.exists() and mine.name.startswith(f"{os.getpid()}-")
    assert process_workdir(tmp_path) == mine  # one folder per process


def test_a_folder_another_process_holds_is_kept(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path; "
        "from birdbridge.media.workdir import process_workdir; "
        "print(process_workdir(Path(sys.argv[1])), flush=True); time.sleep(60)"
    )
    other = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert other.stdout is not None
        theirs = Path(other.stdout.readline().strip())
        mine = process_workdir(tmp_path)
        assert theirs.exists() and mine != theirs
    finally:
        other.kill()
        other.wait()
    assert stat.S_IMODE(mine.stat().st_mode) == 0o700


# -- issue 10, #4: one deadline for the whole transfer ---------------------------------------

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 300\r\n\r\n"


class StingyServer:
    """A raw TCP server on 127.0.0.1 for one connection: once the request has arrived it sends
    ``pieces`` one every ``interval`` seconds, then listens in silence, one ``interval`` at a
    time, for up to a minute. It counts what the client took before hanging up (``sent``
    pieces, then ``silent`` intervals): a count, not a clock reading, is what tests assert."""

    def __init__(self, pieces: list[bytes], interval: float = 0.2) -> None:
        self.pieces = pieces
        self.interval = interval
        self.sent = 0
        self.silent = 0
        self.hung_up = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> StingyServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.close()

    def _serve(self) -> None:
        connection, _ = self._listener.accept()
        with connection:
            if self.pieces:
                connection.recv(65536)  # the request (a few hundred bytes: one segment)
            for piece in self.pieces:
                if not self._send(connection, piece):
                    return
                self.sent += 1
                if self._client_left(connection):
                    return
            while self.silent < 60 / self.interval and not self._client_left(connection):
                self.silent += 1

    def _send(self, connection: socket.socket, piece: bytes) -> bool:
        try:
            connection.sendall(piece)
        except OSError:
            self.hung_up.set()
            return False
        return True

    def _client_left(self, connection: socket.socket) -> bool:
        """Wait one interval for the client to hang up; what it sends is dropped (the
        request, or a TLS ClientHello that is never answered)."""
        data = b"?"
        while data:
            readable, _, _ = select.select([connection], [], [], self.interval)
            if not readable:
                return False
            try:
                data = connection.recv(65536)
            except OSError:
                data = b""
        self.hung_up.set()
        return True


def stingy_download(server: StingyServer, tmp_path: Path, scheme: str = "http") -> str:
    """Download from ``server`` with a 2 s deadline and the default 30 s per-operation timeout
    (which a trickle never trips); the error message, once the server saw the hang-up."""
    dest = tmp_path / "slow.bin"
    with pytest.raises(DownloadError) as caught:
        download(
            f"{scheme}://127.0.0.1:{server.port}/slow.png",
            dest,
            max_bytes=10_000_000,
            timeout=30,
            max_seconds=2,
            allowed_hosts=SANDBOX,
        )
    assert server.hung_up.wait(30), "the client never hung up"
    assert not dest.exists()
    return str(caught.value)


def test_a_trickling_body_is_cut_at_the_deadline(tmp_path: Path) -> None:
    """300 body bytes at one per 0.2 s would take a minute; each read returns a byte long
    before any read timeout, so only a deadline over the whole transfer stops it."""
    with StingyServer([HEAD, *[b"x"] * 300]) as server:
        message = stingy_download(server, tmp_path)
    assert re.search(r"/slow\.png: took longer than 2 s$", message)
    assert 1 <= server.sent < 50  # the headers and a few body bytes, of 300


def test_trickling_headers_are_cut_at_the_deadline(tmp_path: Path) -> None:
    with StingyServer([bytes([byte]) for byte in HEAD]) as server:
        message = stingy_download(server, tmp_path)
    assert message.endswith("took longer than 2 s")
    assert server.sent < len(HEAD) // 2  # the headers never got near their end


def test_headers_then_silence_is_cut_at_the_deadline(tmp_path: Path) -> None:
    with StingyServer([HEAD]) as server:
        message = stingy_download(server, tmp_path)
    assert message.endswith("took longer than 2 s") and server.sent == 1
    assert server.silent < 50  # a few of its 0.2 s turns, not the 30 s of a read timeout


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_server_that_never_answers_is_left_at_the_deadline(tmp_path: Path, scheme: str) -> None:
    """It accepts the connection and says nothing: not to the request (http), not to the TLS
    handshake (https)."""
    with StingyServer([]) as server:
        message = stingy_download(server, tmp_path, scheme)
    assert message.endswith("took longer than 2 s") and server.sent == 0
    assert server.silent < 50  # a few of its 0.2 s turns, not the 30 s of a read timeout


# -- issue 10, #9: only public addresses, or the link's own hosts ------------------------------
#
# The sandboxes are configured by address (127.0.0.1) and listen there. ``localhost`` names
# the same machine but is not a host the operator named: it stands for any name a post could
# use that resolves to a private address (DNS is not available here, /etc/hosts is not ours).


def local_name(url: str) -> str:
    return url.replace("://127.0.0.1:", "://localhost:")


def media_fetches(x: XSandbox) -> int:
    return len(x.api_requests("GET", "^/media/"))


def test_a_loopback_host_is_fetched_only_when_the_link_names_it(
    x_sandbox: XSandbox, tmp_path: Path
) -> None:
    url = served_picture(x_sandbox)
    with pytest.raises(DownloadError) as refused:
        download(url, tmp_path / "a.bin", max_bytes=10_000_000, allowed_hosts=frozenset())
    assert str(refused.value) == f"refused to fetch {url}: 127.0.0.1 is a loopback address"
    with pytest.raises(DownloadError) as by_name:
        download(local_name(url), tmp_path / "b.bin", max_bytes=10_000_000, allowed_hosts=SANDBOX)
    assert re.fullmatch(
        r"refused to fetch http://localhost:\d+/media/\S+: "
        r"localhost resolves to (127\.0\.0\.1|::1), which is a loopback address",
        str(by_name.value),
    )
    assert media_fetches(x_sandbox) == 0  # refused before connecting
    download(url, tmp_path / "c.bin", max_bytes=10_000_000, allowed_hosts=SANDBOX)
    assert media_fetches(x_sandbox) == 1  # the same URL, its host allowed


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("10.0.0.5", "10.0.0.5 is a private address"),
        ("169.254.169.254", "169.254.169.254 is a link-local address"),  # cloud metadata
        ("100.64.0.1", "100.64.0.1 is a shared (carrier-grade NAT) address"),
        ("224.0.0.1", "224.0.0.1 is a multicast address"),
        ("0.0.0.0", "0.0.0.0 is an unspecified address"),  # Linux connects that to itself
        ("[::]", ":: is an unspecified address"),
        ("[::1]", "::1 is a loopback address"),
        ("[fd00::5]", "fd00::5 is a private address"),
        ("[fe80::1]", "fe80::1 is a link-local address"),
        ("[::ffff:127.0.0.1]", "is a loopback address (127.0.0.1 inside an IPv6 address)"),
        ("[64:ff9b::a00:5]", "is a private address (10.0.0.5 inside an IPv6 address)"),  # NAT64
        ("[2002:a00:5::1]", "is a private address (10.0.0.5 inside an IPv6 address)"),  # 6to4
    ],
)
def test_private_addresses_are_refused_before_connecting(
    x_sandbox: XSandbox, tmp_path: Path, host: str, reason: str
) -> None:
    """Even with the link's own 127.0.0.1 allowed; the loopback forms would reach the sandbox
    on this machine (its port is used), which then counts no request."""
    port = x_sandbox.url.rsplit(":", 1)[1]
    url = f"http://{host}:{port}/media/x.png"
    with pytest.raises(DownloadError) as refused:
        download(url, tmp_path / "x.bin", max_bytes=1000, timeout=5, allowed_hosts=SANDBOX)
    assert str(refused.value).startswith(f"refused to fetch {url}: ")
    assert str(refused.value).endswith(reason)
    assert not x_sandbox.api_requests()


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("8.8.8.8", None),
        ("2606:4700::1111", None),
        ("::ffff:8.8.8.8", None),  # a public IPv4 address in IPv6 form is that address
        ("64:ff9b::808:808", None),
        ("127.0.0.2", "a loopback address"),
        ("192.168.1.1", "a private address"),
        ("172.16.0.1", "a private address"),
        ("100.127.255.255", "a shared (carrier-grade NAT) address"),
        ("255.255.255.255", "a private address"),
        ("ff02::1", "a multicast address"),
        ("fec0::1", "a local address"),  # site-local: counted as global by Python 3.11
        ("64:ff9b:1::a00:5", "a local address"),  # local-use NAT64 prefix
        ("::a00:5", "a reserved address"),  # IPv4-compatible, long deprecated
        ("2001:db8::1", "a private address"),  # documentation
    ],
)
def test_address_classes(address: str, reason: str | None) -> None:
    assert refusal(ip_address(address)) == reason


def test_a_redirect_is_checked_again_before_it_is_followed(
    x_sandbox: XSandbox, tmp_path: Path
) -> None:
    """From the link's own host (allowed) to a name that resolves to a loopback address."""
    picture = local_name(served_picture(x_sandbox))
    x_sandbox.route("GET", "/go", lambda _: Response(302, b"", {"Location": picture}))
    with pytest.raises(DownloadError) as refused:
        download(f"{x_sandbox.url}/go", tmp_path / "a.bin", max_bytes=10**7, allowed_hosts=SANDBOX)
    assert str(refused.value).startswith(f"refused to fetch {picture}: localhost resolves to")
    assert media_fetches(x_sandbox) == 0
    both = SANDBOX | {"localhost"}  # the same redirect, both hosts allowed: followed
    result = download(
        f"{x_sandbox.url}/go", tmp_path / "b.bin", max_bytes=10**7, allowed_hosts=both
    )
    assert result.mime == "image/png" and media_fetches(x_sandbox) == 1


def test_redirects_are_followed_a_few_times_only(x_sandbox: XSandbox, tmp_path: Path) -> None:
    x_sandbox.route("GET", "/loop", lambda _: Response(302, b"", {"Location": "/loop"}))
    with pytest.raises(DownloadError, match="more than 5 redirects"):
        download(f"{x_sandbox.url}/loop", tmp_path / "a.bin", max_bytes=1000, allowed_hosts=SANDBOX)
    assert len(x_sandbox.api_requests("GET", "^/loop$")) == 6


# -- TLS: the connection goes to the checked address, the certificate is checked on the name --


def certificate(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for the DNS name ``name`` only (no IP address in it)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    key_type = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    subject = ["-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}"]
    files = ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(
        ["openssl", "req", "-x509", "-days", "2", *key_type, *subject, *files],
        check=True,
        capture_output=True,
    )
    return cert, key


@contextmanager
def tls_server(cert: Path, key: Path, routes: dict[str, Response]) -> Iterator[int]:
    """An HTTPS server on 127.0.0.1 answering ``routes`` (path -> response); yields its port."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            response = routes.get(self.path, Response(404, b""))
            body, content_type = response.encode()
            self.send_response(response.status)
            for header, value in {"Content-Type": content_type, **response.headers}.items():
                self.send_header(header, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(buffer, "PNG")
    return buffer.getvalue()


def test_tls_is_checked_against_the_name_while_connecting_to_the_checked_address(
    tmp_path: Path,
) -> None:
    """The socket goes to 127.0.0.1 (the address that was checked), not to "localhost"
    again, but the certificate, which names localhost only, must still match the name."""
    cert, key = certificate(tmp_path, "localhost")
    trusted = ssl.create_default_context(cafile=cert)
    local = frozenset({"localhost"})
    with tls_server(cert, key, {"/pic.png": Response(200, png())}) as port:
        url = f"https://localhost:{port}/pic.png"
        result = download(
            url, tmp_path / "a.bin", max_bytes=10**6, allowed_hosts=local, ssl_context=trusted
        )
        assert result.mime == "image/png"
        with pytest.raises(DownloadError, match="CERTIFICATE_VERIFY_FAILED"):
            download(url, tmp_path / "b.bin", max_bytes=10**6, allowed_hosts=local)  # not trusted
    other, other_key = certificate(tmp_path, "elsewhere.test")
    wrong_name = ssl.create_default_context(cafile=other)  # trusted, for another name
    with (
        tls_server(other, other_key, {"/pic.png": Response(200, png())}) as port,
        pytest.raises(DownloadError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        download(
            f"https://localhost:{port}/pic.png",
            tmp_path / "c.bin",
            max_bytes=10**6,
            allowed_hosts=local,
            ssl_context=wrong_name,
        )


def test_a_redirect_from_https_to_http_is_refused(x_sandbox: XSandbox, tmp_path: Path) -> None:
    cert, key = certificate(tmp_path, "localhost")
    plain = local_name(served_picture(x_sandbox))
    hosts = frozenset({"localhost", "127.0.0.1"})  # both allowed: only the scheme is at stake
    trusted = ssl.create_default_context(cafile=cert)
    with (
        tls_server(cert, key, {"/go": Response(302, b"", {"Location": plain})}) as port,
        pytest.raises(DownloadError) as refused,
    ):
        download(
            f"https://localhost:{port}/go",
            tmp_path / "a.bin",
            max_bytes=10**7,
            allowed_hosts=hosts,
            ssl_context=trusted,
        )
    assert str(refused.value) == (
        f"refused to follow a redirect from https://localhost:{port}/go to {plain}: not https"
    )
    assert media_fetches(x_sandbox) == 0
    download(plain, tmp_path / "b.bin", max_bytes=10**7, allowed_hosts=hosts)
    assert media_fetches(x_sandbox) == 1  # where it pointed was reachable
