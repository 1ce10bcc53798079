#!/usr/bin/env python3
"""bench-sign-writes.py JOBS IMAGE...: the registry's side of signing IMAGEs in
the legacy layout, and nothing more: for each image, the tag's manifest read
(for its digest), the `.sig` tag read (to append to), then the writes a `.sig`
image takes (the payload blob, the config blob, the manifest under
`sha256-<hex>.sig`), JOBS images at a time on keep-alive connections. No key,
no signature check, no read-back: the floor of `bench.sh`'s (c), what the
registry itself costs for the writes. Manifests are asked for with bench.sh's
BENCH_ACCEPT.

The payload is a simple-signing document of the size cosign writes for the
image; the signature annotation is a placeholder of a DER signature's size
(the registry stores it and never reads it). Plain-HTTP loopback registries
only, as the rest of the bench.
"""

import importlib.util
import json
import os
import sys
import threading
from pathlib import Path

spec = importlib.util.spec_from_file_location("bench_images", Path(__file__).with_name("bench-images.py"))
bench_images = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_images)



def write_signature(reg, image):
    addr, rest = image.split("/", 1)
    repo, tag = rest.rsplit(":", 1)
    _, manifest = reg.request("GET", f"/v2/{repo}/manifests/{tag}", headers={"Accept": os.environ["BENCH_ACCEPT"]})
    digest = bench_images.digest(manifest)
    payload = json.dumps(
        {
            "critical": {
                "identity": {"docker-reference": f"{addr}/{repo}"},
                "image": {"docker-manifest-digest": digest},
                "type": "cosign container image signature",
            },
            "optional": None,
        },
        separators=(",", ":"),
    ).encode()
    tag = "sha256-" + digest.split(":", 1)[1] + ".sig"
    # Appending to what the tag holds is a read first (a 404 here: unsigned images).
    reg.request("GET", f"/v2/{repo}/manifests/{tag}", headers={"Accept": os.environ["BENCH_ACCEPT"]}, want=(200, 404))
    payload_digest = reg.upload(repo, payload)
    config = json.dumps(
        {
            "architecture": "",
            "created": "0001-01-01T00:00:00Z",
            "history": [{"created": "0001-01-01T00:00:00Z"}],
            "os": "",
            "rootfs": {"type": "layers", "diff_ids": [payload_digest]},
            "config": {},
        },
        separators=(",", ":"),
    ).encode()
    config_digest = reg.upload(repo, config)
    sig = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": len(config), "digest": config_digest},
        "layers": [
            {
                "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                "size": len(payload),
                "digest": payload_digest,
                "annotations": {"dev.cosignproject.cosign/signature": "M" * 96},
            }
        ],
    }
    reg.request(
        "PUT",
        f"/v2/{repo}/manifests/{tag}",
        body=json.dumps(sig, separators=(",", ":")).encode(),
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    )


def main():
    if len(sys.argv) < 3 or not sys.argv[1].isdigit() or int(sys.argv[1]) < 1 or "BENCH_ACCEPT" not in os.environ:
        sys.exit("usage: BENCH_ACCEPT=TYPES bench-sign-writes.py JOBS IMAGE... (run by scripts/bench.sh)")
    jobs, images = int(sys.argv[1]), sys.argv[2:]
    addr = images[0].split("/", 1)[0]
    todo = iter(images)
    lock = threading.Lock()
    failures = []

    def worker():
        reg = bench_images.Registry(addr)
        while True:
            with lock:
                image = None if failures else next(todo, None)
            if image is None:
                return
            try:
                write_signature(reg, image)
            except BaseException as e:  # bench_images exits on an HTTP error: SystemExit
                with lock:
                    failures.append(f"{image}: {e}")
                return

    threads = [threading.Thread(target=worker) for _ in range(min(jobs, len(images)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        sys.exit("bench-sign-writes: " + failures[0])


if __name__ == "__main__":
    main()
