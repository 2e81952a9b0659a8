# The package set that builds for one target (an arch and a libc).
#
# Arguments of the returned function:
#   pkgs      the build machine's package set (nixpkgs' interface: pkgs.path, pkgs.stdenv.buildPlatform)
#   arch      an arch of arches.nix, e.g. "aarch64"
#   libc      "musl" or "glibc"
#   strategy  "cross":  the build machine compiles for the target (nixpkgs crossSystem); no emulation.
#                       Cross and musl Node.js are not in the public binary cache: the first build
#                       compiles Node.js (hours); share it through a binary cache.
#             "native": the target system's own package set; Nix builds on a machine of that system
#                       (a remote builder, or this machine under binfmt/QEMU).
{ util, arches }:
{ pkgs, arch, libc, strategy }:
let
  info = arches.${arch} or (util.fail "unknown arch '${arch}'; the arches are ${builtins.concatStringsSep ", " (builtins.attrNames arches)}");
  config =
    if libc == "musl" then info.muslTarget
    else if libc == "glibc" then info.glibcTarget
    else util.fail "libc must be \"musl\" or \"glibc\", not \"${toString libc}\"";
  buildConfig = pkgs.stdenv.buildPlatform.config;
  # Carry the caller's nixpkgs configuration and overlays over to the target's package set.
  carried = { config = pkgs.config or { }; overlays = pkgs.overlays or [ ]; };
in
if strategy == "cross" then
  (if buildConfig == config then pkgs else import pkgs.path (carried // { localSystem = { config = buildConfig; }; crossSystem = { inherit config; }; }))
else if strategy == "native" then
  (if buildConfig == config then pkgs else import pkgs.path (carried // { localSystem = { inherit config; }; }))
else
  util.fail "strategy must be \"cross\" or \"native\", not \"${toString strategy}\""
