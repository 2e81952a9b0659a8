"""Replays the file steps of an add-on's Dockerfile into an image root, as Docker's builder would.

Run by the image's customisation layer (image.nix, dockerTools' extraCommands) in the folder that becomes
the image root, with the steps `addonix generate` wrote (src/addon/runtime.ts decides them):

  copy     COPY/ADD of the add-on's own files: each source (wildcards as Go's filepath.Match) is a
           folder whose contents go into the destination, or a file that goes into it when the
           destination ends with "/" (or is a folder every base image has, or one made before), else
           becomes it; ADD unpacks local tar archives. Files keep their executable bit, folders are
           0755, files 0644 or 0755 (the modes a git checkout gives), --chmod applies to all.
  write    a COPY here-document
  chmod    RUN chmod MODE PATH... (octal or symbolic, -R)
  mkdir    RUN mkdir -p PATH...
  symlink  RUN ln -s TARGET PATH
  remove   RUN rm -rf PATH... (of the add-on's files; the base image's stay)

Then links node_modules into the folder npm installed in. A path the steps name that is not among the
add-on's files (a base image's file) is left alone and said on stderr.

  python3 docker-copy.py STEPS.json CONTEXT NODE_MODULES_DIR NODE_MODULES_TARGET
"""
import fnmatch
import json
import os
import re
import shutil
import stat
import sys
import tarfile

# Kept in step with BASE_DIRECTORIES of src/addon/runtime.ts.
BASE_DIRECTORIES = {"/", "/bin", "/etc", "/home", "/lib", "/opt", "/root", "/run", "/sbin", "/srv", "/tmp", "/usr", "/usr/bin", "/usr/lib",
                    "/usr/local", "/usr/local/bin", "/usr/local/lib", "/usr/local/sbin", "/usr/sbin", "/usr/share", "/var", "/var/lib"}


class StepError(Exception):
    pass


def here(path):
    """An image path as a path below the current folder (the image root being built), never outside it."""
    inside = os.path.normpath("/" + path).lstrip("/")
    return "./" + inside if inside else "."


def glob(context, pattern):
    """The context paths a source names: Go's filepath.Match per path component, hidden names included."""
    if not re.search(r"[*?\[]", pattern):
        return [pattern] if os.path.lexists(os.path.join(context, pattern)) else []
    matches = [""]
    for part in pattern.split("/"):
        found = []
        for base in matches:
            folder = os.path.join(context, base) if base else context
            if not re.search(r"[*?\[]", part):
                candidate = os.path.join(base, part) if base else part
                if os.path.lexists(os.path.join(context, candidate)):
                    found.append(candidate)
                continue
            if not os.path.isdir(folder):
                continue
            for name in sorted(os.listdir(folder)):
                if fnmatch.fnmatchcase(name, part):
                    found.append(os.path.join(base, name) if base else name)
        matches = found
    return sorted(matches)


def file_mode(source_mode):
    return 0o755 if source_mode & 0o111 else 0o644


def apply_chmod(path, mode):
    """chmod MODE on one path: octal, or symbolic ([ugoa]*[-+=][rwxXst]*, comma-separated)."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        return
    current = stat.S_IMODE(st.st_mode)
    if re.fullmatch(r"[0-7]{3,4}", mode):
        os.chmod(path, int(mode, 8))
        return
    is_dir = stat.S_ISDIR(st.st_mode)
    for clause in mode.split(","):
        m = re.fullmatch(r"([ugoa]*)((?:[-+=][rwxXst]*)+)", clause)
        if not m:
            raise StepError(f"invalid mode {mode!r}")
        who = m.group(1) or "a"
        masks = {"u": 0o4700, "g": 0o2070, "o": 0o0007}
        target = 0
        for w in ("ugo" if "a" in who else who):
            target |= masks[w]
        for op, perms in re.findall(r"([-+=])([rwxXst]*)", m.group(2)):
            bits = 0
            for p in perms:
                if p == "r":
                    bits |= 0o444
                elif p == "w":
                    bits |= 0o222
                elif p == "x" or (p == "X" and (is_dir or current & 0o111)):
                    bits |= 0o111
                elif p == "s":
                    bits |= 0o6000
                elif p == "t":
                    bits |= 0o1000
            bits &= target
            if op == "+":
                current |= bits
            elif op == "-":
                current &= ~bits
            else:
                current = (current & ~target) | bits
    os.chmod(path, current)


def make_dirs(path):
    """Folders up to path, each 0755 (Docker creates missing parents so)."""
    parts = []
    while path not in (".", "") and not os.path.isdir(path):
        parts.append(path)
        path = os.path.dirname(path)
    for folder in reversed(parts):
        if os.path.lexists(folder):
            os.unlink(folder)  # A link from the contents where a folder must be.
        os.mkdir(folder, 0o755)
        os.chmod(folder, 0o755)


def replace(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def copy_file(source, dest, chmod):
    make_dirs(os.path.dirname(dest) or ".")
    replace(dest)
    if os.path.islink(source):
        os.symlink(os.readlink(source), dest)
        return
    shutil.copyfile(source, dest)
    os.chmod(dest, file_mode(os.stat(source).st_mode))
    if chmod:
        apply_chmod(dest, chmod)


def copy_tree(source, dest, chmod):
    make_dirs(dest)
    if chmod:
        apply_chmod(dest, chmod)
    for name in sorted(os.listdir(source)):
        src = os.path.join(source, name)
        dst = os.path.join(dest, name)
        if os.path.isdir(src) and not os.path.islink(src):
            if os.path.lexists(dst) and not os.path.isdir(dst):
                os.unlink(dst)
            copy_tree(src, dst, chmod)
        else:
            copy_file(src, dst, chmod)


def into_folder(dest):
    return dest.endswith("/") or dest in BASE_DIRECTORIES or os.path.isdir(here(dest))


def extract(archive, dest):
    make_dirs(here(dest))
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            name = os.path.normpath(member.name)
            if name.startswith("..") or os.path.isabs(name):
                raise StepError(f"{archive}: {member.name} points outside the destination")
        tar.extractall(here(dest), filter="tar") if hasattr(tarfile, "data_filter") else tar.extractall(here(dest))


def step_copy(step, context):
    dest = step["dest"]
    for pattern in step["sources"]:
        matches = glob(context, pattern)
        if not matches:
            raise StepError(f"{pattern}: no such file or folder in the add-on folder")
        for relative in matches:
            source = os.path.join(context, relative) if relative != "." else context
            if os.path.isdir(source) and not os.path.islink(source):
                copy_tree(source, here(dest), step["chmod"])
            elif step["extract"] and re.search(r"\.(tar|tar\.gz|tgz|tar\.bz2|tbz2?|tar\.xz|txz)$", relative):
                extract(source, dest)
            else:
                target = os.path.join(here(dest), os.path.basename(relative)) if into_folder(dest) else here(dest)
                copy_file(source, target, step["chmod"])


def own(path, where):
    if not os.path.lexists(here(path)):
        print(f"addonix: {where}: {path} is not among the add-on's files (the base image's are left as they are)", file=sys.stderr)
        return False
    return True


def main():
    steps_file, context, modules_dir, modules_target = sys.argv[1:5]
    with open(steps_file) as handle:
        steps = json.load(handle)
    for step in steps:
        where = f"{step['file']}:{step['line']}"
        try:
            op = step["op"]
            if op == "copy":
                step_copy(step, context)
            elif op == "write":
                target = here(step["dest"])
                make_dirs(os.path.dirname(target))
                replace(target)
                with open(target, "w") as handle:
                    handle.write(step["content"])
                os.chmod(target, 0o644)
                if step["chmod"]:
                    apply_chmod(target, step["chmod"])
            elif op == "chmod":
                for path in step["paths"]:
                    if not own(path, where):
                        continue
                    if step["recursive"] and os.path.isdir(here(path)) and not os.path.islink(here(path)):
                        for root, dirs, files in os.walk(here(path)):
                            for name in dirs + files:
                                apply_chmod(os.path.join(root, name), step["mode"])
                    apply_chmod(here(path), step["mode"])
            elif op == "mkdir":
                for path in step["paths"]:
                    make_dirs(here(path))
            elif op == "symlink":
                make_dirs(os.path.dirname(here(step["path"])))
                replace(here(step["path"]))
                os.symlink(step["target"], here(step["path"]))
            elif op == "remove":
                for path in step["paths"]:
                    if re.search(r"[*?\[]", path):
                        matches = glob(".", here(path)[2:])
                    else:
                        matches = [here(path)[2:]] if own(path, where) else []
                    for match in sorted(matches):
                        if match and os.path.lexists(match):
                            replace(match)
            else:
                raise StepError(f"unknown step {op!r}")
        except StepError as error:
            sys.exit(f"addonix: {where}: {error}")
    if modules_dir:
        folder = here(modules_dir)
        make_dirs(folder)
        link = os.path.join(folder, "node_modules")
        replace(link)
        os.symlink(modules_target, link)


if __name__ == "__main__":
    main()
