# The flake apps of an add-on: build-all-images (every dockerImage-* of the flake in the current
# folder, result-<arch> links, a table: `addonix build --all`; run it where flake.nix is) and load-<arch> (the image streamed into `docker load`, or `podman load`
# where there is no Docker).
#
# Arguments of the returned function:
#   pkgs      the build machine's package set
#   cli       the addonix CLI package (cli.nix)
#   streams   { <arch> = streamLayeredImage script; }
#   pins      [ { input = "addonix/nixpkgs"; path = <flake or store path>; } ]: the inputs this app was
#             evaluated with, passed to `addonix build` as --override-input NAME path:PATH. The build
#             evaluates the flake again; without them it would take the inputs of flake.lock, not those
#             of `nix run .#build-all-images --override-input ...` (a mirror, a fork, a local tree).
{ util }:
{ pkgs, cli, streams, pins ? [ ] }:
let
  app = name: script: { type = "app"; program = "${pkgs.writeShellScript name script}"; };
  load = arch: stream: app "load-${arch}" ''
    set -eu
    if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
      engine=docker
    elif command -v podman >/dev/null 2>&1; then
      engine=podman
    else
      echo "load-${arch}: neither a running Docker nor Podman was found; install one, or push the image with addonix push" >&2
      exit 1
    fi
    echo "load-${arch}: streaming the image into $engine load" >&2
    ${stream} | "$engine" load
  '';
in
{
  build-all-images = app "build-all-images" ''
    exec ${cli}/bin/addonix build --all ${toString (map (pin: "--override-input ${pin.input} path:${pin.path}") pins)} "$@"
  '';
} // builtins.listToAttrs (util.mapAttrsToList (arch: stream: { name = "load-${arch}"; value = load arch stream; }) streams)
