#!/usr/bin/python3
"""The nixpkgs stand-in's dockerTools (see default.nix): a docker-archive with one layer per store path
of the closure of the customisation layer and the config (the last layer holds the rest when there are
more than maxLayers - 1), then the customisation layer default.nix made (the contents linked into the
root, extraCommands run in it), like nixpkgs' streamLayeredImage. Store layer entries are sorted, owned
by root, dated `created`, so the same inputs give the same bytes.

With fromImage (a docker-archive, e.g. pullImage's), as nixpkgs' streamLayeredImage does: the base
image's layers come first, byte for byte (manifest.json `Layers`, checked against the config's
`rootfs.diff_ids`), and count against maxLayers; the image config's Env is the base config's Env with
ours laid over it (a variable both set takes our value at the base's position; ours that the base lacks
follow in our order). Nothing else of the base config is inherited.

  stream-image.py --prepare SPEC.json   (in a build with exportReferencesGraph): prints the conf
  stream-image.py --stream CONF.json    writes the image tar to stdout
"""
import calendar
import hashlib
import io
import json
import os
import sys
import tarfile
import tempfile
import time

STORE = "/nix/store"


def read_closure(file):
    """exportReferencesGraph's format: path, deriver, number of references, references; repeated."""
    paths = set()
    with open(file) as handle:
        lines = [line.rstrip("\n") for line in handle]
    i = 0
    while i < len(lines):
        if not lines[i]:
            i += 1
            continue
        paths.add(lines[i])
        count = int(lines[i + 2])
        i += 3 + count
    return paths


def archive_member(archive, name):
    """A regular file of a docker-archive by name, following symbolic links inside the archive."""
    for _ in range(8):
        try:
            member = archive.getmember(name)
        except KeyError:
            raise SystemExit(f"stand-in dockerTools: the base image has no {name}")
        if member.isfile():
            return member
        if not member.issym():
            raise SystemExit(f"stand-in dockerTools: {name} in the base image is not a file")
        name = os.path.normpath(os.path.join(os.path.dirname(name), member.linkname))
        if name.startswith("..") or os.path.isabs(name):
            raise SystemExit(f"stand-in dockerTools: {member.name} in the base image points outside it")
    raise SystemExit(f"stand-in dockerTools: too many links from {name} in the base image")


def read_base(path):
    """The base image's layers (member, diff_id) and its Env, checked against its config."""
    with tarfile.open(path, mode="r:") as archive:
        manifest = json.load(archive.extractfile(archive_member(archive, "manifest.json")))
        if not isinstance(manifest, list) or len(manifest) != 1:
            raise SystemExit("stand-in dockerTools: the base image archive must hold exactly one image")
        config = json.load(archive.extractfile(archive_member(archive, manifest[0]["Config"])))
        diff_ids = config.get("rootfs", {}).get("diff_ids", [])
        names = manifest[0].get("Layers", [])
        if len(names) != len(diff_ids):
            raise SystemExit(f"stand-in dockerTools: the base image lists {len(names)} layers but {len(diff_ids)} diff_ids")
        layers = []
        for name, diff_id in zip(names, diff_ids):
            member = archive_member(archive, name)
            digest = hashlib.sha256()
            handle = archive.extractfile(member)
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
            if f"sha256:{digest.hexdigest()}" != diff_id:
                raise SystemExit(f"stand-in dockerTools: base layer {name} is not its diff_id {diff_id} (compressed or damaged)")
            layers.append({"member": member.name, "diff_id": diff_id})
        env = (config.get("config") or {}).get("Env") or []
    return layers, env


def overlay_env(base, ours):
    """Base Env with ours laid over it: same variable, our value in the base's place; new ones after."""
    merged = {}
    for item in list(base) + list(ours):
        key, _, value = item.partition("=")
        merged[key] = value  # A dict keeps the position of a key's first insertion.
    return [f"{key}={value}" for key, value in merged.items()]


def prepare(spec_file):
    spec = json.load(open(spec_file))
    config = dict(spec["config"] or {})
    base = None
    if spec["fromImage"]:
        layers, env = read_base(spec["fromImage"])
        base = {"archive": spec["fromImage"], "layers": layers}
        merged = overlay_env(env, config.get("Env") or [])
        if merged:
            config["Env"] = merged
    # The customisation layer and at least one store layer need room beside the base layers.
    store_layers = spec["maxLayers"] - 1 - (len(base["layers"]) if base else 0)
    if store_layers < 1:
        raise SystemExit(f"stand-in dockerTools: maxLayers {spec['maxLayers']} leaves no layer for the contents beside the base image's layers")
    paths = set()
    for closure in spec["closures"]:
        paths |= read_closure(closure)
    paths -= set(spec["unnecessary"])
    created = spec["created"]
    epoch = calendar.timegm(time.strptime(created, "%Y-%m-%dT%H:%M:%SZ"))
    conf = {
        "repo_tag": f'{spec["name"]}:{spec["tag"] or "latest"}',
        "architecture": spec["architecture"],
        "created": created,
        "mtime": epoch,
        "config": config,
        "customisation_layer": spec["customisationLayer"],
        "store_paths": sorted(paths),
        "store_layers": store_layers,
        "base": base,
    }
    json.dump(conf, sys.stdout, indent=1, sort_keys=True)


def entry(name, kind, mtime, mode=0o755, size=0, target=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.linkname = target
    return info


def add_tree(tar, root, mtime, seen):
    """A store path, its parents and everything below it, sorted."""
    parts = root.strip("/").split("/")
    for i in range(1, len(parts)):
        parent = "/".join(parts[:i])
        if parent not in seen:
            seen.add(parent)
            tar.addfile(entry(parent, tarfile.DIRTYPE, mtime))
    stack = [root]
    while stack:
        path = stack.pop()
        name = path.strip("/")
        if name in seen:
            continue
        seen.add(name)
        st = os.lstat(path)
        if os.path.islink(path):
            tar.addfile(entry(name, tarfile.SYMTYPE, mtime, 0o777, target=os.readlink(path)))
        elif os.path.isdir(path):
            tar.addfile(entry(name, tarfile.DIRTYPE, mtime, st.st_mode & 0o7777))
            stack.extend(os.path.join(path, child) for child in sorted(os.listdir(path), reverse=True))
        else:
            with open(path, "rb") as handle:
                tar.addfile(entry(name, tarfile.REGTYPE, mtime, st.st_mode & 0o7777, st.st_size), handle)


def layer_file(fill, mtime):
    handle = tempfile.TemporaryFile()
    with tarfile.open(fileobj=handle, mode="w", format=tarfile.PAX_FORMAT) as tar:
        fill(tar)
    handle.seek(0)
    digest = hashlib.sha256()
    for chunk in iter(lambda: handle.read(1 << 20), b""):
        digest.update(chunk)
    size = handle.tell()
    handle.seek(0)
    return handle, size, digest.hexdigest()


def stream(conf_file):
    conf = json.load(open(conf_file))
    mtime = conf["mtime"]
    paths = conf["store_paths"]
    singles = conf["store_layers"] - 1
    groups = [[path] for path in paths[:singles]]
    rest = paths[singles:]
    if rest:
        groups.append(rest)
    fills = [lambda tar, group=group: [add_tree(tar, path, mtime, set()) for path in group] for group in groups]
    out = tarfile.open(fileobj=sys.stdout.buffer, mode="w|", format=tarfile.PAX_FORMAT)
    diff_ids, layer_names, comments, written = [], [], [], set()

    def put(digest, size, handle, comment):
        name = f"{digest}/layer.tar"
        if name not in written:  # A layer two images share (or an empty one repeated) is stored once.
            written.add(name)
            out.addfile(entry(digest, tarfile.DIRTYPE, mtime))
            out.addfile(entry(name, tarfile.REGTYPE, mtime, 0o644, size), handle)
        diff_ids.append(f"sha256:{digest}")
        layer_names.append(name)
        comments.append(comment)

    if conf["base"]:
        with tarfile.open(conf["base"]["archive"], mode="r:") as base:
            for layer in conf["base"]["layers"]:
                member = base.getmember(layer["member"])
                put(layer["diff_id"][len("sha256:"):], member.size, base.extractfile(member), "from the base image")
    for fill in fills:
        handle, size, digest = layer_file(fill, mtime)
        put(digest, size, handle, "store paths")
        handle.close()
    customisation = conf["customisation_layer"]
    with open(os.path.join(customisation, "checksum")) as handle:
        digest = handle.read().strip()
    layer = os.path.join(customisation, "layer.tar")
    with open(layer, "rb") as handle:
        put(digest, os.path.getsize(layer), handle, "customisation layer")
    config = {
        "architecture": conf["architecture"],
        "os": "linux",
        "created": conf["created"],
        "config": conf["config"],
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": conf["created"], "comment": comment} for comment in comments],
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    out.addfile(entry(config_name, tarfile.REGTYPE, mtime, 0o644, len(config_bytes)), io.BytesIO(config_bytes))
    manifest = json.dumps([{"Config": config_name, "RepoTags": [conf["repo_tag"]], "Layers": layer_names}]).encode()
    out.addfile(entry("manifest.json", tarfile.REGTYPE, mtime, 0o644, len(manifest)), io.BytesIO(manifest))
    out.close()


if __name__ == "__main__":
    if sys.argv[1] == "--prepare":
        prepare(sys.argv[2])
    elif sys.argv[1] == "--stream":
        stream(sys.argv[2])
    else:
        raise SystemExit(__doc__)
