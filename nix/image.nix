# One add-on image for one arch: the build machine's dockerTools (cross dockerTools is broken upstream)
# with contents built for the target. Returns { stream, image, info }: the streamLayeredImage script, the
# buildLayeredImage tarball (`docker load` accepts it), and what the image will say about itself (name,
# tag, architecture, variant, created, config), for tools and tests that need it without building.
#
# Arguments of the returned function:
#   pkgs          the build machine's package set
#   targetPkgs    the target's package set (Node.js, CA certificates, time zones, a shell)
#   addon         the add-on data (import of nix/addon.generated.nix)
#   arch          the arch
#   app           the /app folder derivation (app.nix)
#   nodejs        the target's Node.js, or null for an add-on without Node.js
#   command       what the container runs: a list of strings
#   flavor        "nix": only the Nix closure (the app, Node.js, CA certificates, tzdata, busybox);
#                 "base": on top of the add-on's base image (baseImage), keeping s6-overlay and bashio
#   baseImage     for flavor "base": a docker-archive of the base image (base-image.nix)
#   extraContents more packages of the target's set to put in the image
#   plan          how the image is built (arch, strategy, libc, ...): kept as the `addonix` attribute of
#                 the stream and the image, for `addonix build` to show without building
{ util, arches }:
{ pkgs, targetPkgs, addon, arch, app, nodejs, command, flavor, baseImage ? null, extraContents ? [ ], plan ? { } }:
let
  archData = addon.arches.${arch};
  labels = archData.labels;
  # ghcr.io/me/aarch64-notes:1.0.0 -> ghcr.io/me/aarch64-notes (the tag is the version).
  imageName = builtins.head (builtins.match "(.*):[^:/]+" archData.image);
  portKey = port: if builtins.match ".*/(tcp|udp)" port != null then port else "${port}/tcp";
  ports = builtins.attrNames addon.ports ++ util.optional addon.ingress "${toString addon.ingressPort}/tcp";
  exposedPorts = builtins.listToAttrs (map (port: { name = portKey port; value = { }; }) ports);
  environment = util.mapAttrsToList (name: value: "${name}=${value}") addon.environment;
  isBase = flavor == "base";
  # With init: false the Supervisor gives PID 1 to the image: s6-overlay's /init takes it and runs CMD.
  # With init: true Docker's own init is PID 1, where s6-overlay refuses to run: the app starts directly.
  useS6 = isBase && addon.init == false;
  config = {
    Env = [ "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "NODE_ENV=production" ]
      ++ util.optional (!isBase) "SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt"
      ++ util.optional (!isBase) "TZDIR=/share/zoneinfo"
      ++ environment;
    WorkingDir = "/app";
    ExposedPorts = exposedPorts;
    Labels = labels;
  } // (if useS6 then { Entrypoint = [ "/init" ]; Cmd = command; } else { Entrypoint = command; });
  contents = [ app ] ++ util.optional (nodejs != null) nodejs
    ++ (if isBase then [ ] else [ targetPkgs.cacert targetPkgs.tzdata targetPkgs.busybox ])
    ++ extraContents;
  arguments = {
    name = imageName;
    tag = addon.version;
    inherit contents config;
    architecture = arches.${arch}.goarch;
    # Fixed, never "now": the image must be the same bytes whoever builds it, whenever.
    created = labels."org.opencontainers.image.created" or "1970-01-01T00:00:01Z";
  } // (if isBase then { fromImage = baseImage; } else { });
in
if flavor != "nix" && flavor != "base" then util.fail "flavor must be \"nix\" or \"base\", not \"${toString flavor}\""
else if isBase && baseImage == null then util.fail "flavor \"base\" needs the pinned base image of ${arch}: run `addonix pin-base` and pass baseImages"
else {
  info = {
    inherit (arguments) name tag architecture created config;
    # dockerTools writes no variant; the index addonix pushes carries it.
    variant = arches.${arch}.variant;
    inherit flavor;
  };
  stream = pkgs.dockerTools.streamLayeredImage arguments // { addonix = plan; };
  image = pkgs.dockerTools.buildLayeredImage arguments // { addonix = plan; };
}
