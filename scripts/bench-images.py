#!/usr/bin/env python3
"""bench-images.py REGISTRY PREFIX NAME N: put N distinct small images into a
loopback registry, as PREFIX/NAME1:v1 .. PREFIX/NAMEN:v1, and print their
references, one a line.

Every image shares one layer (mounted across repositories, so it is stored once)
and has a config of its own, so each has its own digest and its own signature,
as N different images in a CI run would. Plain HTTP on keep-alive connections:
N images cost about 4 requests each, instead of N `docker push` runs.
"""

import gzip
import hashlib
import http.client
import io
import json
import sys
import tarfile


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_blob():
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        body = b"harbor-lab bench layer\n"
        info = tarfile.TarInfo("bench.txt")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    tar_bytes = raw.getvalue()
    return digest(tar_bytes), gzip.compress(tar_bytes, mtime=0)


class Registry:
    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)

    def request(self, method, path, body=None, headers=None, want=(200, 201, 202)):
        self.conn.request(method, path, body=body, headers=headers or {})
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status not in want:
            sys.exit(f"bench-images: {method} {path}: HTTP {resp.status} {data[:200]!r}")
        return resp, data

    def upload(self, repo, data, mount_from=None):
        d = digest(data)
        if mount_from:
            resp, _ = self.request("POST", f"/v2/{repo}/blobs/uploads/?mount={d}&from={mount_from}")
            if resp.status == 201:
                return d
        else:
            resp, _ = self.request("POST", f"/v2/{repo}/blobs/uploads/")
        location = resp.getheader("Location")
        sep = "&" if "?" in location else "?"
        path = location.split("://", 1)[-1]
        path = path[path.index("/"):] if not location.startswith("/") else location
        self.request(
            "PUT",
            f"{path}{sep}digest={d}",
            body=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        return d


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: bench-images.py REGISTRY PREFIX NAME N")
    addr, prefix, name, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    reg = Registry(addr)
    diff_id, layer = layer_blob()
    base = f"{prefix}/base"
    layer_digest = reg.upload(base, layer)
    for i in range(1, n + 1):
        repo = f"{prefix}/{name}{i}"
        reg.upload(repo, layer, mount_from=base)
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {"Labels": {"bench": f"{prefix}/{name}{i}"}},
                "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            },
            separators=(",", ":"),
        ).encode()
        config_digest = reg.upload(repo, config)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {
                    "mediaType": "application/vnd.docker.container.image.v1+json",
                    "size": len(config),
                    "digest": config_digest,
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "size": len(layer),
                        "digest": layer_digest,
                    }
                ],
            },
            separators=(",", ":"),
        ).encode()
        reg.request(
            "PUT",
            f"/v2/{repo}/manifests/v1",
            body=manifest,
            headers={"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"},
        )
        print(f"{addr}/{repo}:v1")


if __name__ == "__main__":
    main()
