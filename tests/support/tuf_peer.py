#!/usr/bin/env python3
"""The independent TUF peer for harbor-lab's tests: python-tuf 7.0.1.

  client  --metadata-dir D --metadata-url URL [--now ISO] refresh
  client  ... --target-name N --target-base-url U --target-dir T download
          (the conformance protocol; file://, http:// and oci:// URLs)
  resolve --root ROOT --url URL NAME...
          (prints {"NAME": "<sha256 hex>" or null, ...} after a refresh)
  build   OUT [--target NAME=HEX:LEN]... [--rotate good|bad]
          (an ECDSA P-256 repository with consistent snapshots, made by python-tuf)

oci://HOST/REPO:TAG/ is the registry layout: one image whose layers are the
metadata files, annotated tuf.io/filename; it is read over plain HTTP (the
loopback test registry).
"""

import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from typing import Iterator

from securesystemslib.signer import CryptoSigner
from tuf.api.exceptions import DownloadHTTPError
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.ngclient import FetcherInterface, Updater
from tuf.ngclient._internal import trusted_metadata_set


class PeerFetcher(FetcherInterface):
    """file://, http:// and oci:// for python-tuf."""

    def __init__(self) -> None:
        self._index: dict[str, dict[str, str]] = {}

    def _fetch(self, url: str) -> Iterator[bytes]:
        if url.startswith("file://"):
            path = urllib.request.url2pathname(url[len("file://"):])
            if not os.path.isfile(path):
                raise DownloadHTTPError("not found", 404)
            with open(path, "rb") as f:
                return iter([f.read()])
        if url.startswith("oci://"):
            image, _, name = url[len("oci://"):].rpartition("/")
            name = urllib.request.unquote(name)
            host, _, rest = image.partition("/")
            repo, colon, tag = rest.rpartition(":")
            if not colon:
                repo, tag = rest, "latest"
            layers = self._layers(host, repo, tag)
            if name not in layers:
                raise DownloadHTTPError("not found", 404)
            return iter([self._get(f"http://{host}/v2/{repo}/blobs/{layers[name]}")])
        return iter([self._get(url)])

    def _get(self, url: str, accept: str = "") -> bytes:
        req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310
                return r.read()
        except urllib.error.HTTPError as e:
            raise DownloadHTTPError(str(e), e.code) from e

    def _layers(self, host: str, repo: str, tag: str) -> dict[str, str]:
        key = f"{host}/{repo}:{tag}"
        if key not in self._index:
            m = json.loads(
                self._get(
                    f"http://{host}/v2/{repo}/manifests/{tag}",
                    "application/vnd.oci.image.manifest.v1+json",
                )
            )
            self._index[key] = {
                l["annotations"]["tuf.io/filename"]: l["digest"]
                for l in m.get("layers", [])
                if l.get("mediaType") == "application/vnd.tuf.metadata+json"
                and "tuf.io/filename" in l.get("annotations", {})
            }
        return self._index[key]


def fake_now(iso: str | None) -> None:
    """Step python-tuf's clock (the reference time of its trusted set)."""
    if not iso:
        return
    when = datetime.datetime.fromisoformat(iso.replace("Z", "+00:00"))

    class Clock(datetime.datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[override]
            return when

    utc = datetime.timezone

    class Module:
        datetime = Clock
        timezone = utc

    trusted_metadata_set.datetime = Module  # type: ignore[assignment]


def updater(
    metadata_dir: str,
    url: str,
    target_dir: str | None = None,
    target_url: str | None = None,
    bootstrap: bytes | None = None,
) -> Updater:
    # bootstrap=None: trust the root.json already in metadata_dir.
    return Updater(
        metadata_dir,
        url if url.endswith("/") else url + "/",
        target_dir,
        target_url,
        fetcher=PeerFetcher(),
        bootstrap=bootstrap,
    )


def client(a: argparse.Namespace) -> int:
    if a.action == "init":
        shutil.copyfile(a.trusted_root, os.path.join(a.metadata_dir, "root.json"))
        return 0
    fake_now(a.now)
    try:
        u = updater(a.metadata_dir, a.metadata_url, a.target_dir, a.target_base_url)
        u.refresh()
        if a.action == "download":
            for name in a.target_name or []:
                info = u.get_targetinfo(name)
                if info is None:
                    raise RuntimeError(f"{name}: no such target")
                if not u.find_cached_target(info):
                    u.download_target(info)
    except Exception as e:  # noqa: BLE001
        print(f"python-tuf refused: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


def resolve(a: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as d:
        with open(a.root, "rb") as f:
            u = updater(d, a.url, bootstrap=f.read())
        u.refresh()
        out = {}
        for name in a.names:
            info = u.get_targetinfo(name)
            out[name] = None if info is None else info.hashes["sha256"]
    print(json.dumps(out))
    return 0


def build(a: argparse.Namespace) -> int:
    out = os.path.join(a.out, "metadata")
    os.makedirs(out, exist_ok=True)
    expires = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(days=7)
    signers = {r: CryptoSigner.generate_ecdsa() for r in ("root", "targets", "snapshot", "timestamp")}
    root = Metadata(Root(expires=expires, consistent_snapshot=True, spec_version="1.0.0"))
    for role, s in signers.items():
        root.signed.add_key(s.public_key, role)
    root.sign(signers["root"])
    targets = Metadata(Targets(expires=expires, spec_version="1.0.0"))
    for spec in a.target or []:
        name, _, rest = spec.partition("=")
        sha, _, length = rest.partition(":")
        targets.signed.targets[name] = TargetFile(int(length), {"sha256": sha}, name)
    targets.sign(signers["targets"])
    tbytes = targets.to_bytes()
    snapshot = Metadata(Snapshot(expires=expires, spec_version="1.0.0"))
    snapshot.signed.meta["targets.json"] = MetaFile(1, len(tbytes), {"sha256": sha256(tbytes)})
    snapshot.sign(signers["snapshot"])
    sbytes = snapshot.to_bytes()
    timestamp = Metadata(Timestamp(expires=expires, spec_version="1.0.0"))
    timestamp.signed.snapshot_meta = MetaFile(1, len(sbytes), {"sha256": sha256(sbytes)})
    timestamp.sign(signers["timestamp"])
    write(out, "1.root.json", root.to_bytes())
    write(out, "1.targets.json", tbytes)
    write(out, "1.snapshot.json", sbytes)
    write(out, "timestamp.json", timestamp.to_bytes())
    if a.rotate:
        new = CryptoSigner.generate_ecdsa()
        old_id = signers["root"].public_key.keyid
        root.signed.revoke_key(old_id, "root")
        root.signed.add_key(new.public_key, "root")
        root.signed.version = 2
        root.signatures.clear()
        root.sign(new, append=True)
        if a.rotate == "good":
            root.sign(signers["root"], append=True)
        write(out, "2.root.json", root.to_bytes())
    return 0


def sha256(b: bytes) -> str:
    import hashlib

    return hashlib.sha256(b).hexdigest()


def write(d: str, name: str, data: bytes) -> None:
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main() -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("client")
    c.add_argument("--metadata-dir", required=True)
    c.add_argument("--metadata-url")
    c.add_argument("--target-name", action="append")
    c.add_argument("--target-base-url")
    c.add_argument("--target-dir")
    c.add_argument("--now")
    c.add_argument("action", choices=["init", "refresh", "download"])
    c.add_argument("trusted_root", nargs="?")
    r = sub.add_parser("resolve")
    r.add_argument("--root", required=True)
    r.add_argument("--url", required=True)
    r.add_argument("names", nargs="*")
    b = sub.add_parser("build")
    b.add_argument("out")
    b.add_argument("--target", action="append")
    b.add_argument("--rotate", choices=["good", "bad"])
    a = p.parse_args()
    return {"client": client, "resolve": resolve, "build": build}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
