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
#   nodejsPicked  the Node.js the package set gave, before addonix's override (nodejs is it, or it with
#                 doCheck = false): its attribute is looked up by it
#
# The stream and the image also carry `addonixPackages`: data (plain JSON values, store paths as
# strings without their context, so evaluating it builds nothing: `nix eval --json
# .#streamImage-<arch>.addonixPackages`) of what Nix knows of the nixpkgs packages the image takes,
# which a built image does not say: { dataVersion = 1; packageSet = <the target set's platform>; paths = { <store
# path> = { attribute; output; override; licenses = [ { spdxId?; shortName?; fullName? } ]; }; }; }
# for Node.js, the packages of the Dockerfile's apk lines, busybox, CA certificates, time zones,
# extraContents and the target's C library and C++ runtime. `attribute` is the package set's attribute
# that gives exactly that derivation (null when none of its names does, e.g. extraContents made by the
# caller), licenses are meta.license's (one, a list, or none). `addonix sbom` reads it (by store path).
{ util, arches }:
{ pkgs, targetPkgs, addon, arch, context, nodejs, nodeModules, run ? null, flavor, baseImage ? null, baseConfig ? { }, extraContents ? [ ], plan ? { }, nodejsPicked ? nodejs }:
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

  # What the image takes from nixpkgs, with what Nix knows of it (see the header).
  tryValue = value: let tried = builtins.tryEval value; in if tried.success then tried.value else null;
  outPathOf = drv: tryValue (builtins.unsafeDiscardStringContext (drv.outPath or ""));
  # The set's attribute that is this very derivation (same output path), among the names it may have.
  attributeOf = drv: names:
    let found = builtins.filter (name: tryValue (outPathOf (targetPkgs.${name} or { })) == outPathOf drv) names; in
    if found == [ ] then null else builtins.head found;
  licenseFacts = license:
    if builtins.isAttrs license then util.filterAttrs (name: value: builtins.elem name [ "spdxId" "shortName" "fullName" ] && builtins.isString value) license
    else if builtins.isString license then { shortName = license; }
    else { };
  licensesOf = drv:
    let license = tryValue ((drv.meta or { }).license or null); in
    builtins.filter (facts: facts != { }) (map licenseFacts (if license == null then [ ] else if builtins.isList license then license else [ license ]));
  nameOf = drv: drv.pname or (builtins.parseDrvName (drv.name or "")).name;
  factsOf = { drv, attribute, override ? null }:
    map (output: {
      name = builtins.unsafeDiscardStringContext (toString drv.${output}.outPath);
      value = { inherit attribute output override; licenses = licensesOf drv; };
    }) (drv.outputs or [ "out" ]);
  known = drv: drv != null && outPathOf drv != null && outPathOf drv != "";
  nodeVersions = let major = builtins.head (builtins.match "([0-9]*).*" (nodejsPicked.version or "")); in
    if major == "" then [ ] else [ "nodejs-slim_${major}" "nodejs_${major}" ];
  ccOf = tryValue (targetPkgs.stdenv.cc or null);
  packageFacts = builtins.concatMap factsOf (builtins.filter (entry: known entry.drv) (
    (if nodejs == null then [ ] else [ {
      drv = nodejs;
      attribute = attributeOf nodejsPicked ([ (nameOf nodejsPicked) "nodejs-slim" "nodejs" ] ++ nodeVersions);
      override = if outPathOf nodejs == outPathOf nodejsPicked then null else "overrideAttrs: doCheck = false";
    } ])
    # A package the set lacks is the image's own error to say (above); here it is left out.
    ++ map (attr: { drv = targetPkgs.${attr} or null; attribute = attr; }) runtime.packages
    ++ (if isBase then [ ] else map (attr: { drv = targetPkgs.${attr} or null; attribute = attr; }) [ "busybox" "cacert" "tzdata" ])
    ++ map (drv: { inherit drv; attribute = attributeOf drv [ (nameOf drv) ]; }) extraContents
    ++ (if ccOf == null then [ ] else
      (if tryValue (ccOf.libc or null) != null then [ { drv = ccOf.libc; attribute = "stdenv.cc.libc"; } ] else [ ])
      ++ (if tryValue (ccOf.cc or null) != null then [ { drv = ccOf.cc; attribute = "stdenv.cc.cc"; } ] else [ ]))
  ));
  packagesData = {
    dataVersion = 1;
    packageSet = tryValue targetPkgs.stdenv.hostPlatform.config;
    # The first entry of a path wins (Node.js before the same package named again by the Dockerfile).
    paths = builtins.foldl' (acc: entry: if acc ? ${entry.name} then acc else acc // { ${entry.name} = entry.value; }) { } packageFacts;
  };
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
  stream = pkgs.dockerTools.streamLayeredImage arguments // { addonix = plan; addonixPackages = packagesData; };
  image = pkgs.dockerTools.buildLayeredImage arguments // { addonix = plan; addonixPackages = packagesData; };
}
else util.fail "add-on '${addon.slug}': the image needs a command: ${if runtime.commandProblem != null then runtime.commandProblem else "the Dockerfile sets no CMD or ENTRYPOINT and the base image has none"}; give run = [ \"node\" \"main.js\" ] (or your program) to mkAddonImages"
