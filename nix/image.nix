# One add-on image for one arch: the build machine's dockerTools (cross dockerTools is broken upstream)
# with contents built for the target. The image is what the add-on's Dockerfile makes (its runtime
# contract, nix/addon.generated.nix): the add-on's files where its COPY steps put them, node_modules
# where its npm install ran, Node.js where Alpine's apk puts it, and the config Docker would write on
# the base image. Returns { stream, image, info }: the streamLayeredImage script, the buildLayeredImage
# tarball (`docker load` accepts it), and what the image will say about itself (name, tag, architecture,
# variant, created, config), for tools and tests that need it without building.
#
# Arguments of the returned function:
#   pkgs          the build machine's package set
#   targetPkgs    the target's package set (Node.js, CA certificates, time zones, a shell, packages)
#   addon         the add-on data (import of nix/addon.generated.nix)
#   arch          the arch
#   context       the build context: the add-on folder as the COPY steps see it (runtime.nix contextFor)
#   nodejs        the target's Node.js, or null for an add-on without Node.js
#   nodeModules   the node_modules derivation (node-modules.nix), or null
#   run           null, or the command that replaces the image's Cmd
#   flavor        "nix": only the Nix closure (Node.js, CA certificates, tzdata, busybox and the
#                 add-on's files); "base": on top of the add-on's base image (baseImage), keeping
#                 s6-overlay, bashio and what else the base has
#   baseImage     for flavor "base": a docker-archive of the base image (base-image.nix)
#   baseConfig    for flavor "base": the base image's config (its Entrypoint, Env, ...), {} if unknown
#   extraContents more packages of the target's set to put in the image (linked at its root, whole)
#   plan          how the image is built (arch, strategy, libc, ...): kept as the `addonix` attribute of
#                 the stream and the image, for `addonix build` to show without building
{ util, arches }:
{ pkgs, targetPkgs, addon, arch, context, nodejs, nodeModules, run ? null, flavor, baseImage ? null, baseConfig ? { }, extraContents ? [ ], plan ? { } }:
let
  runtimeLib = import ./runtime.nix { inherit util; };
  archData = addon.arches.${arch};
  runtime = archData.runtime;
  labels = archData.labels;
  # ghcr.io/me/aarch64-notes:1.0.0 -> ghcr.io/me/aarch64-notes (the tag is the version).
  imageName = builtins.head (builtins.match "(.*):[^:/]+" archData.image);
  isBase = flavor == "base";

  # What an image of flavor "nix" starts from: no base image, so addonix's own defaults.
  nixBase = {
    Env = [ "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt" "TZDIR=/share/zoneinfo" ];
  };
  # Without a Dockerfile the command is package.json's (or run): the Entrypoint, or the Cmd under
  # s6-overlay's /init (flavor "base" with init: false: the base image's entrypoint stays PID 1).
  command = if run != null then run else runtime.command;
  ownCommand =
    if runtime.source != null || command == null then { }
    else if isBase && !addon.init then { Cmd = command; }
    else { Entrypoint = command; Cmd = null; };
  config = runtimeLib.configFor {
    base = if isBase then baseConfig else nixBase;
    changes = runtime.config // ownCommand;
    inherit labels;
    run = if runtime.source != null then run else null;
  };

  # The image root: what runs, linked into the store where the image expects it, and nothing else of
  # the packages (a package linked whole would put its nix-support/ setup hook, headers, docs,
  # package.json or busybox's default.script at /). Node.js's executable and the programs of the
  # packages the Dockerfile installs, where the image's PATH finds them: /usr/bin on a base image (where
  # Alpine's apk puts node), /bin otherwise; for flavor "nix", busybox's programs in /bin, the CA bundle
  # at /etc/ssl/certs/ca-bundle.crt and the time zones in /share/zoneinfo (SSL_CERT_FILE and TZDIR).
  binDir = if isBase then "usr/bin" else "bin";
  packages = map (attr: targetPkgs.${attr} or (util.fail "add-on '${addon.slug}': the Dockerfile installs a package addonix takes from nixpkgs' ${attr}, which this package set does not have; give extraContents instead, or remove it from the Dockerfile")) runtime.packages;
  linkPrograms = dir: package: ''
    for program in ${package}/bin/*; do
      [ -e "$program" ] || continue
      [ -e "$out/${dir}/''${program##*/}" ] || ln -s "$program" "$out/${dir}/''${program##*/}"
    done
  '';
  programs = pkgs.runCommand "${addon.slug}-programs-${plan.target or arch}" { } (''
    mkdir -p "$out/${binDir}"
    ${util.optionalString (nodejs != null) ''ln -s ${nodejs}/bin/node "$out/${binDir}/node"''}
    ${util.concatMapStrings (linkPrograms binDir) packages}
  '' + util.optionalString (!isBase) ''
    mkdir -p "$out/bin" "$out/etc/ssl/certs" "$out/share"
    ${linkPrograms "bin" targetPkgs.busybox}
    ln -s ${targetPkgs.cacert}/etc/ssl/certs/ca-bundle.crt "$out/etc/ssl/certs/ca-bundle.crt"
    cp -rs --no-preserve=mode ${targetPkgs.tzdata}/share/zoneinfo "$out/share/zoneinfo"
  '');

  # The add-on's files, replayed from the Dockerfile's steps into the customisation layer as real files
  # (dockerTools runs extraCommands in the folder that becomes the image root); node_modules linked in.
  steps = builtins.toFile "${util.storeName addon.slug}-${arch}-steps.json" (builtins.toJSON (map (step: step // { file = runtime.source; }) runtime.steps));
  modulesDir = if nodeModules != null && runtime.nodeModulesDir != null then runtime.nodeModulesDir else "";
  extraCommands = ''
    ${pkgs.buildPackages.python3}/bin/python3 ${./docker-copy.py} ${steps} ${context} ${util.escapeShellArg modulesDir} ${if nodeModules != null then "${nodeModules}/node_modules" else "''"}
  '';

  contents = [ programs ] ++ extraContents;
  arguments = {
    name = imageName;
    tag = addon.version;
    inherit contents config extraCommands;
    architecture = arches.${arch}.goarch;
    # Fixed, never "now": the image must be the same bytes whoever builds it, whenever.
    created = labels."org.opencontainers.image.created" or "1970-01-01T00:00:01Z";
  } // (if isBase then { fromImage = baseImage; } else { });
in
if flavor != "nix" && flavor != "base" then util.fail "flavor must be \"nix\" or \"base\", not \"${toString flavor}\""
else if isBase && baseImage == null then util.fail "flavor \"base\" needs the pinned base image of ${arch}: run `addonix pin-base` and pass baseImages"
else if config ? Cmd || config ? Entrypoint then {
  info = {
    inherit (arguments) name tag architecture created config;
    # dockerTools writes no variant; the index addonix pushes carries it.
    variant = arches.${arch}.variant;
    inherit flavor;
  };
  stream = pkgs.dockerTools.streamLayeredImage arguments // { addonix = plan; };
  image = pkgs.dockerTools.buildLayeredImage arguments // { addonix = plan; };
}
else util.fail "add-on '${addon.slug}': the image needs a command: ${if runtime.commandProblem != null then runtime.commandProblem else "the Dockerfile sets no CMD or ENTRYPOINT and the base image has none"}; give run = [ \"node\" \"main.js\" ] (or your program) to mkAddonImages"
