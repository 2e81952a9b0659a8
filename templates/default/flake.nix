{
  # A Home Assistant add-on built with addonix. After copying: run `addonix generate` (and again after
  # editing config.yaml or package-lock.json), commit nix/*.generated.nix, then
  #   nix run .#build-all-images     every arch: result-<arch> links and a table
  #   nix build .#dockerImage-aarch64
  #   nix run .#load-amd64           into the local Docker (or Podman)
  description = "A Home Assistant add-on built with addonix";

  inputs.addonix.url = "github:addonix/addonix";

  outputs = { self, addonix }: addonix.lib.mkAddonFlake { src = ./.; };
}
