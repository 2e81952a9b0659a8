# The add-on's base image for one arch (flavor "base"), pulled by digest with the build machine's
# dockerTools.pullImage, from the lock file `addonix pin-base` writes (nix/base-images.lock.nix):
#   { dataVersion = 2; images.<arch> = { imageName, imageDigest, hash, finalImageName, finalImageTag,
#     os, arch, tlsVerify, config }; }
# config is the base image's own config (Entrypoint, Env, WorkingDir, ...), which the add-on's image
# inherits as Docker's FROM does (image.nix); dataVersion 1 locks have none.
# imageDigest is the registry's digest of that arch's manifest; hash is the Nix hash of the archive
# pullImage writes (it is not the registry digest: `addonix pin-base` computes it).
#
# Arguments of the returned function:
#   pkgs  the build machine's package set
#   lock  the imported lock file, or null when there is none
#   slug  the add-on's slug (for messages)
#   arch  the arch to pull
{ util }:
{ pkgs, lock, slug, arch }:
let
  entry =
    if lock == null then util.fail "add-on '${slug}' is built with flavor \"base\" but has no nix/base-images.lock.nix: run `addonix pin-base` and commit the file"
    else if !(builtins.elem (lock.dataVersion or 0) [ 1 2 ]) then util.fail "nix/base-images.lock.nix of add-on '${slug}' has dataVersion ${toString (lock.dataVersion or "none")}; this addonix reads versions 1 and 2: run `addonix pin-base` again"
    else lock.images.${arch} or (util.fail "nix/base-images.lock.nix of add-on '${slug}' pins no base image for ${arch}: run `addonix pin-base`");
in
if entry.hash == null then util.fail "the base image of add-on '${slug}' for ${arch} is pinned by digest but has no Nix hash yet: run `addonix pin-base` where Nix can fetch it"
else pkgs.dockerTools.pullImage { inherit (entry) imageName imageDigest hash finalImageName finalImageTag os arch tlsVerify; }
