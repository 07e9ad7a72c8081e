#!/usr/bin/env python3
"""Write an OCI image archive (an OCI image layout in one uncompressed tar) from layer tars and a config.

    oci-archive.py OUT.tar --ref docker.io/library/postgres:17.6 [--ref ...] --config CONFIG.json LAYER.tar...

CONFIG.json holds the image config's "config" object (Entrypoint, Cmd, Env, User, WorkingDir, ExposedPorts,
StopSignal, Volumes, Labels). Layers are plain (uncompressed) tars, applied in the order given. Each --ref
becomes one entry of index.json, annotated with io.containerd.image.name (the full reference, which
`ctr images import` uses as the image name) and org.opencontainers.image.ref.name (its tag).
The output is reproducible: the same inputs give the same bytes.
"""
import argparse
import hashlib
import io
import json
import os
import sys
import tarfile

LAYER = "application/vnd.oci.image.layer.v1.tar"
CONFIG = "application/vnd.oci.image.config.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("--ref", action="append", required=True)
    p.add_argument("--config", required=True)
    p.add_argument("--created", default="1970-01-01T00:00:00Z")
    p.add_argument("layers", nargs="+")
    a = p.parse_args()

    with open(a.config) as f:
        runtime = json.load(f)
    layers = [(path, sha256_file(path), os.path.getsize(path)) for path in a.layers]
    config = {
        "created": a.created,
        "architecture": "amd64",
        "os": "linux",
        "config": runtime,
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + d for _, d, _ in layers]},
        "history": [{"created": a.created, "created_by": "test/substrate/images/oci-archive.py"} for _ in layers],
    }
    config_bytes = canonical(config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": CONFIG, "digest": "sha256:" + hashlib.sha256(config_bytes).hexdigest(), "size": len(config_bytes)},
        "layers": [{"mediaType": LAYER, "digest": "sha256:" + d, "size": n} for _, d, n in layers],
    }
    manifest_bytes = canonical(manifest)
    manifest_digest = hashlib.sha256(manifest_bytes).hexdigest()
    index = {
        "schemaVersion": 2,
        "mediaType": INDEX,
        "manifests": [
            {
                "mediaType": MANIFEST,
                "digest": "sha256:" + manifest_digest,
                "size": len(manifest_bytes),
                "platform": {"architecture": "amd64", "os": "linux"},
                "annotations": {"io.containerd.image.name": ref, "org.opencontainers.image.ref.name": ref.rsplit(":", 1)[-1]},
            }
            for ref in a.ref
        ],
    }

    tmp = a.out + ".partial"

    def add_bytes(tar, name, data):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))

    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        add_bytes(tar, "oci-layout", canonical({"imageLayoutVersion": "1.0.0"}))
        add_bytes(tar, "index.json", canonical(index))
        add_bytes(tar, "blobs/sha256/" + manifest_digest, manifest_bytes)
        add_bytes(tar, "blobs/sha256/" + manifest["config"]["digest"][7:], config_bytes)
        seen = set()
        for path, digest, size in layers:
            if digest in seen:
                continue
            seen.add(digest)
            info = tarfile.TarInfo("blobs/sha256/" + digest)
            info.size = size
            info.mode = 0o644
            with open(path, "rb") as f:
                tar.addfile(info, f)
    os.replace(tmp, a.out)
    print("sha256:" + manifest_digest)


if __name__ == "__main__":
    try:
        main()
    except (OSError, ValueError) as e:
        print(f"oci-archive.py: {e}", file=sys.stderr)
        sys.exit(1)
