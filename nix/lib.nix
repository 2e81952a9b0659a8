# The addonix Nix library: add-on images per arch from the data `addonix generate` writes.
# Everything here is plain Nix on builtins; nixpkgs comes in as the `pkgs` argument (or `nixpkgs` for
# the flake helpers), so the same functions run against real nixpkgs and against the tests' stand-in.
{ addonixSrc }:
let
  util = import ./util.nix;
  arches = import ./arches.nix;
  strategies = import ./strategies.nix;
  inherit (util) fail;

  packageSetsFor = import ./package-sets.nix { inherit util arches; };
  toolchainFor = import ./toolchain.nix { inherit util; };
  nativeAddonFor = import ./native-addon.nix { inherit util; };
  nodeModulesFor = import ./node-modules.nix { inherit util; };
  runtimeLib = import ./runtime.nix { inherit util; };
  imageFor = import ./image.nix { inherit util arches; };
  appsFor = import ./apps.nix { inherit util; };
  nodeHeadersFor = import ./node-headers.nix { inherit util; };

  # The inputs an add-on flake (as `addonix init` writes it: input `addonix`) was evaluated with, for
  # build-all-images to build the same (apps.nix, pins). addonix's nixpkgs only when the flake did not
  # name another: that one's input name is the flake's own.
  pinsFor = defaultNixpkgs: args:
    [ { input = "addonix"; path = addonixSrc; } ]
    ++ (if args ? nixpkgs then [ ] else [ { input = "addonix/nixpkgs"; path = defaultNixpkgs; } ]);
  baseImageFor = import ./base-image.nix { inherit util; };
  cliFor = import ./cli.nix { inherit addonixSrc; };

  dataVersion = 3;
  checkAddon = addon:
    if (addon.dataVersion or 0) != dataVersion then fail "the add-on data has dataVersion ${toString (addon.dataVersion or "none")}; this addonix reads version ${toString dataVersion}: run `addonix generate` again"
    else addon;

  # How one arch is built: the strategy and libc asked (or the arch's defaults), checked against what
  # nixpkgs can do, and the package set they give.
  planFor = { sets, arch, strategy, libc }:
    let
      row = arches.${arch};
      chosen = if builtins.isAttrs strategy then strategy.${arch} or row.defaultStrategy else if strategy != null then strategy else row.defaultStrategy;
      known = strategies ? ${chosen} || fail "strategy must be one of ${builtins.concatStringsSep ", " (builtins.attrNames strategies)}, not \"${toString chosen}\"";
      libcOf = if libc != null then libc else strategies.${chosen}.libc;
      valid =
        if libcOf != "glibc" && libcOf != "musl" then fail "libc must be \"glibc\" or \"musl\", not \"${toString libcOf}\""
        else if chosen == "cached" && !row.inBinaryCache then fail "${arch}: strategy \"cached\" takes the target system's packages from the public binary cache, which has none for ${row.nixSystem}: use strategy \"cross\" (the default for ${arch}) or \"native\" on a ${row.nixSystem} machine"
        else if chosen == "cached" && libcOf == "musl" then fail "${arch}: strategy \"cached\" builds with the binary cache's glibc package set; the cache has no musl one: use libc = \"glibc\", or strategy \"cross\" for musl"
        else if chosen == "native" && libcOf == "musl" && !row.nativeMusl then fail "${arch}: strategy \"native\" with libc \"musl\" needs nixpkgs' musl bootstrap tools for ${row.nixSystem}, which do not exist (there are some for x86_64, aarch64 and armv6l): use strategy \"cross\" for a musl image of ${arch}, or libc \"glibc\""
        else true;
      targetPkgs = if chosen == "cross" then sets.cross.${if libcOf == "musl" then row.muslTarget else row.glibcTarget} else sets.native.${row.nixSystem}.${libcOf};
      # Whether Nix substitutes the target's Node.js: otherwise it is compiled, and its test suite
      # (nodejs.nix: doCheck = canExecute) is not run for an image.
      fromCache = chosen != "cross" && libcOf == "glibc" && row.inBinaryCache;
    in
    builtins.seq known (builtins.seq valid {
      inherit arch targetPkgs fromCache;
      strategy = chosen;
      libc = libcOf;
      target = "${arch}-${libcOf}";
      nixSystem = row.nixSystem;
      firstBuild = if fromCache then strategies.${chosen}.firstBuild else strategies.cross.firstBuild;
    });

  # The image's Node.js, without its test suite where it is compiled.
  nodeFor = plan: pick:
    let node = pick plan.targetPkgs; in
    if plan.fromCache || !(node ? overrideAttrs) then node else node.overrideAttrs (old: { doCheck = false; });

  # The Node.js headers addons compile against: the build machine's of the same version when it has
  # one (from the cache, and the same for every target, so one addon compile serves images and musl
  # prebuilds alike), else the image's own.
  headersFor = sets: pick: node:
    let own = pick sets.build; in
    if (own.version or null) == (node.version or "") then own else node;

  # The native addon of one plan for one target (native-addon.nix), with the settings' nixpkgs names
  # taken from the target set (libraries) and the build set (tools).
  addonBuilder = { sets, archPlan, nodeHeaders, systemLibraries ? { } }:
    let
      toolchain = toolchainFor { buildPkgs = sets.build; inherit (archPlan) targetPkgs strategy; name = archPlan.target; };
    in
    { location, plan, sources }:
    nativeAddonFor {
      buildPkgs = sets.build;
      inherit toolchain nodeHeaders location sources plan;
      inherit (archPlan) target;
      npmCpu = arches.${archPlan.arch}.npmCpu;
      systemLibraries = map (name: archPlan.targetPkgs.${name} or (util.fail "systemLibraries of ${plan.name}: the package set of ${archPlan.target} has no ${name}")) (plan.settings.systemLibraries ++ (systemLibraries.${plan.name} or [ ]));
      buildTools = map (name: sets.build.${name}) plan.settings.buildTools;
    };

  # What node_modules must not keep: the build machine's node-gyp, python3 and Node.js.
  buildLeaks = sets: [ sets.build.python3 sets.build.node-gyp sets.build.nodejs ];

  # mkAddonImages: one image per arch for one add-on.
  #
  # Arguments:
  #   pkgs           the build machine's nixpkgs (e.g. nixpkgs.legacyPackages.x86_64-linux)
  #   src            the add-on folder (a path)
  #   addon          import of the add-on's nix/addon.generated.nix
  #   npmDeps        import of nix/npm-deps.generated.nix, or null for an add-on without Node.js
  #   strategy       how each arch is built (default: the arch's, see nix/strategies.nix and `addonix
  #                  inspect`): "cached" (amd64, aarch64: the target system's own packages from the
  #                  binary cache; native addons compiled on this machine), "native" (everything on a
  #                  machine of the target system: a native CI runner, a remote builder) or "cross"
  #                  (armv7, armhf, i386, riscv64: compiles a cross toolchain and Node.js on the first
  #                  build); one for all arches, or { <arch> = "..."; }
  #   libc           "glibc" or "musl" (default: the strategy's: glibc for cached and native, musl for cross)
  #   flavor         "nix" (only the Nix closure and the add-on's files) or "base" (on top of the
  #                  add-on's base image, pinned by digest in nix/base-images.lock.nix, which `addonix
  #                  pin-base` writes: for s6-overlay and bashio); one for all arches, or
  #                  { <arch> = "..."; } (default: the one `addonix generate` chose from the Dockerfile,
  #                  see `addonix inspect`: "base" for a bashio launcher, s6 services or init: false on a
  #                  Home Assistant base image)
  #   baseImages     for flavor "base": { <arch> = docker-archive; } or { <arch> = { image = docker-archive;
  #                  config = <its image config>; }; } to use instead of the lock file's (the config is what
  #                  the image inherits: Entrypoint, Env, WorkingDir, ...; the lock file's when not given)
  #   nodejs         picks Node.js from a package set (default: its nodejs-slim: no npm, no corepack)
  #   run            a command that replaces the image's Cmd, as `docker run IMAGE COMMAND` would (default:
  #                  the Dockerfile's; without a Dockerfile, the one `addonix generate` found in
  #                  package.json: its start script, else its main)
  #   extraContents  picks more packages for the image from the target's package set
  #   buildArches    the arches to build (default: the add-on's; riscv64 is built when listed here)
  #   usePrebuilt    npm package names whose tarball ships a binary for the target that may be used
  #                  instead of compiling (it is pinned by the lockfile's integrity), e.g. [ "better-sqlite3" ]
  #   systemLibraries  { <npm package name> = [ <attribute of the target's package set> ... ]; }: system
  #                  libraries a native addon links besides those addonix knows for it (`addonix deps`
  #                  shows them), e.g. { my-addon = [ "zlib" ]; }; the addon gets a RUNPATH to each
  #                  library's store folder and the image holds the library
  #   nixpkgs        the nixpkgs flake: its legacyPackages are the target systems' package sets
  #   config, overlays  nixpkgs configuration and overlays of the other package sets (default: pkgs')
  #   packageSets    package-sets.nix's result, to share the sets with other calls (default: made here)
  #
  # Returns { images, streams, nodeModules, imageInfo, plans, nixPackages, packages }: images.<arch>
  # (buildLayeredImage), streams.<arch> (streamLayeredImage), nodeModules.<arch> (null without Node.js),
  # imageInfo.<arch> (name, tag, architecture, variant, created, config: known without building),
  # plans.<arch> (arch, strategy, libc, target, nixSystem, fromCache, firstBuild), nixPackages.<arch>
  # (the nixpkgs packages in the image by store path, their attributes and licenses, as JSON data; also
  # the `addonixPackages` attribute of the stream and the image; see image.nix), and packages with the
  # flake names dockerImage-<arch> and streamImage-<arch>.
  mkAddonImages =
    { pkgs
    , src
    , addon
    , npmDeps ? null
    , strategy ? null
    , libc ? null
    , flavor ? null
    , baseImages ? null
    , nodejs ? (set: set.nodejs-slim)
    , run ? null
    , extraContents ? (set: [ ])
    , buildArches ? null
    , usePrebuilt ? [ ]
    , systemLibraries ? { }
    , nixpkgs ? null
    , config ? null
    , overlays ? null
    , packageSets ? null
    }:
    let
      sets = if packageSets != null then packageSets else packageSetsFor { inherit pkgs nixpkgs config overlays; };
      data = checkAddon addon;
      wanted = if buildArches != null then buildArches else data.archNames;
      appSrc = if data.app != null then src + "/${data.app.dir}" else src;
      hasApp = data.app != null || builtins.pathExists (appSrc + "/package.json");
      npm =
        if npmDeps != null then npmDeps
        else if hasApp then
          fail "add-on '${data.slug}' has a Node.js app (package.json) but no npm data: run `addonix generate` (it needs package-lock.json) and pass npmDeps = import ./nix/npm-deps.generated.nix"
        else null;
      # The build context the Dockerfile's COPY steps read: the add-on folder, once for all arches.
      context = runtimeLib.contextFor { inherit src; ignore = data.contextIgnore; name = "${util.storeName data.slug}-context"; };
      baseLockFile = src + "/nix/base-images.lock.nix";
      baseLock = if builtins.pathExists baseLockFile then import baseLockFile else null;
      flavorOf = arch:
        if flavor == null then data.arches.${arch}.runtime.flavor
        else if builtins.isAttrs flavor then flavor.${arch} or data.arches.${arch}.runtime.flavor
        else flavor;
      # baseImages.<arch>: a docker-archive, or { image; config; }.
      givenBase = arch:
        let given = baseImages.${arch} or (fail "baseImages has no image for ${arch}"); in
        if builtins.isAttrs given && (given.type or null) != "derivation" then given // { config = given.config or null; }
        else { image = given; config = null; };
      baseImageOf = arch:
        if flavorOf arch != "base" then null
        else if baseImages != null then (givenBase arch).image
        else baseImageFor { pkgs = sets.build; inherit arch; lock = baseLock; inherit (data) slug; };
      baseConfigOf = arch:
        let
          given = if baseImages != null then (givenBase arch).config else null;
          pinned = if baseLock != null then baseLock.images.${arch}.config or null else null;
        in
        if flavorOf arch != "base" then { }
        else if given != null then given
        else if pinned != null then pinned
        else if baseImages != null then { }
        else fail "nix/base-images.lock.nix of add-on '${data.slug}' has no config of the base image for ${arch} (it was written by an older addonix): run `addonix pin-base` again";
      perArch = arch:
        let
          known = arches ? ${arch} || fail "add-on '${data.slug}' lists arch '${arch}', which addonix does not know; the arches are ${builtins.concatStringsSep ", " (builtins.attrNames arches)}";
          inData = data.arches ? ${arch} || fail "add-on '${data.slug}': the generated data has no arch '${arch}' (it has ${builtins.concatStringsSep ", " data.archNames}); add it to config.yaml and run `addonix generate`${util.optionalString (arch == "riscv64") " --riscv64 (riscv64 is opt-in: Home Assistant does not run it)"}";
          plan = planFor { inherit sets arch strategy libc; };
          node = if npm != null || hasApp then nodeFor plan nodejs else null;
          nodeModules =
            if npm == null then null
            else nodeModulesFor {
              buildPkgs = sets.build;
              npmDeps = npm;
              inherit (plan) target;
              inherit appSrc usePrebuilt;
              addonFor = addonBuilder { inherit sets systemLibraries; archPlan = plan; nodeHeaders = headersFor sets nodejs node; };
              leaks = buildLeaks sets;
              name = "${data.slug}-node-modules-${plan.target}";
            };
          summary = builtins.removeAttrs plan [ "targetPkgs" ] // {
            compiles = if nodeModules == null then [ ] else map (addon: addon.addon) nodeModules.addons;
          };
          built = imageFor {
            pkgs = sets.build;
            inherit (plan) targetPkgs;
            inherit arch context nodeModules run;
            flavor = flavorOf arch;
            addon = data;
            nodejs = node;
            nodejsPicked = if node != null then nodejs plan.targetPkgs else null;
            baseImage = baseImageOf arch;
            baseConfig = baseConfigOf arch;
            extraContents = extraContents plan.targetPkgs;
            plan = summary;
          };
        in
        # The arch is checked before anything of it is used: a clear message, not a missing attribute.
        builtins.seq known (builtins.seq inData { inherit nodeModules summary; inherit (built) stream image info; nixPackages = built.stream.addonixPackages; });
      results = util.genAttrs wanted perArch;
    in
    {
      images = builtins.mapAttrs (_: result: result.image) results;
      streams = builtins.mapAttrs (_: result: result.stream) results;
      nodeModules = builtins.mapAttrs (_: result: result.nodeModules) results;
      imageInfo = builtins.mapAttrs (_: result: result.info) results;
      plans = builtins.mapAttrs (_: result: result.summary) results;
      nixPackages = builtins.mapAttrs (_: result: result.nixPackages) results;
      packages = util.concatMapAttrs (arch: result: { "dockerImage-${arch}" = result.image; "streamImage-${arch}" = result.stream; }) results;
    };

  buildSystems = [ "x86_64-linux" "aarch64-linux" ];
  forSystems = systems: f: builtins.listToAttrs (map (system: { name = system; value = f system; }) systems);

  # The add-on's generated data, read from its folder.
  generated = src: name: let file = src + "/nix/${name}.generated.nix"; in if builtins.pathExists file then import file else null;

  # prebuilds-better-sqlite3-<arch>: better-sqlite3 compiled for musl, for Alpine users, in both forms
  # its versions load: v12 and older via prebuild-install, one tarball per Node.js ABI (addons of V8's
  # own API load only in a Node.js of the NODE_MODULE_VERSION they were compiled against), named
  # better-sqlite3-v<version>-node-v<abi>-linuxmusl-<cpu>.tar.gz and holding
  # build/Release/better_sqlite3.node (for npm_config_better_sqlite3_local_prebuilds); v13 (Node-API, one
  # file for every Node.js) via prebuilds/linuxmusl-<cpu>.node.
  # Compiled with the cross toolchain for musl, the C++ runtime linked in and no RUNPATH (toolchain.nix).
  # The v12 tarballs are compiled against the headers of each Node.js Alpine ships (node-headers.nix:
  # ABIs 115, 127, 137); v13 against the build machine's Node.js headers, the same derivation a musl
  # image of the same version uses.
  #
  # Arguments: pkgs (the build machine's), arch, packageSets (optional, to share package sets),
  #   libc ("musl", the default; "glibc" builds the same recipe for glibc, named linux-<cpu>: official
  #   Node.js builds load those, which is how the tests prove that each tarball has its ABI),
  #   nodeHeaders ({ <abi> = <a folder with include/node>; }, default node-headers.nix's).
  # passthru: addons (every compile), nodeModules.v12.<abi> and nodeModules.v13 (the node_modules they
  # were taken from).
  prebuildsFor = { pkgs, arch, packageSets ? null, libc ? "musl", nodeHeaders ? null }:
    let
      sets = if packageSets != null then packageSets else packageSetsFor { inherit pkgs; };
      plan = planFor { inherit sets arch libc; strategy = if libc == "musl" then "cross" else null; };
      headersByAbi = if nodeHeaders != null then nodeHeaders else nodeHeadersFor { pkgs = sets.build; };
      abis = builtins.attrNames headersByAbi;
      platform = if libc == "musl" then "linuxmusl" else "linux";
      cpu = arches.${arch}.npmCpu;
      compiled = major: headers: suffix:
        let
          dir = ./prebuilds + "/better-sqlite3-v${major}";
          npmDeps = import (dir + "/nix/npm-deps.generated.nix");
        in
        {
          version = npmDeps.packages."node_modules/better-sqlite3".version;
          nodeModules = nodeModulesFor {
            buildPkgs = sets.build;
            inherit npmDeps;
            inherit (plan) target;
            appSrc = dir;
            addonFor = addonBuilder { inherit sets; archPlan = plan; nodeHeaders = headers; };
            leaks = buildLeaks sets;
            name = "better-sqlite3-v${major}-${plan.target}${suffix}";
          };
        };
      v12 = builtins.mapAttrs (abi: headers: compiled "12" headers "-node-v${abi}") headersByAbi;
      v13 = compiled "13" sets.build.nodejs-slim "";
      addonFile = result: "${result.nodeModules}/node_modules/better-sqlite3/build/Release/better_sqlite3.node";
      tarball = abi: let result = v12.${abi}; headers = headersByAbi.${abi}; in ''
        abi=$(sed -n 's/^#define NODE_MODULE_VERSION \([0-9][0-9]*\).*/\1/p' ${headers}/include/node/node_version.h)
        [ "$abi" = ${util.escapeShellArg abi} ] || { echo "the Node.js headers listed under ABI ${abi} say NODE_MODULE_VERSION $abi" >&2; exit 1; }
        rm -rf stage; mkdir -p stage/build/Release
        cp ${addonFile result} stage/build/Release/
        tar --sort=name --mtime=@1 --owner=0 --group=0 --numeric-owner -C stage -cf - build | gzip -9n > "$out/better-sqlite3-v${result.version}-node-v${abi}-${platform}-${cpu}.tar.gz"
      '';
    in
    sets.build.runCommand "prebuilds-better-sqlite3-${arch}${util.optionalString (libc != "musl") "-${libc}"}"
      {
        disallowedReferences = buildLeaks sets;
        passthru = {
          addons = builtins.concatMap (abi: v12.${abi}.nodeModules.addons) abis ++ v13.nodeModules.addons;
          nodeModules = { v12 = builtins.mapAttrs (_: result: result.nodeModules) v12; v13 = v13.nodeModules; };
        };
      } (''
      mkdir -p "$out/better-sqlite3-v${v13.version}/prebuilds"
    '' + builtins.concatStringsSep "" (map tarball abis) + ''
      cp ${addonFile v13} "$out/better-sqlite3-v${v13.version}/prebuilds/${platform}-${cpu}.node"
    '');

  ciToolsFor = pkgs: { inherit (pkgs) jq cosign cachix attic-client; };
in
{
  inherit arches strategies mkAddonImages prebuildsFor;

  # The package sets of one build machine, to share between calls (see package-sets.nix).
  packageSets = packageSetsFor;

  # The addonix CLI package for a package set.
  cli = pkgs: cliFor { inherit pkgs; };

  # ciTools: the programs the CI files `addonix init --ci` writes run, from the flake's own (locked)
  # nixpkgs, never the global registry's: jq, cosign, cachix, attic-client. Exported by the flakes as
  # legacyPackages.<system>.ci (nix run .#ci.jq; each is evaluated only when asked for).
  ciTools = ciToolsFor;

  # mkAddonFlake: the outputs of an add-on repository's own flake (what `addonix init` writes calls).
  #
  # Arguments:
  #   src       the add-on folder (usually ./.)
  #   nixpkgs   the nixpkgs flake (default: the one addonix pins)
  #   systems   build systems (default: x86_64-linux and aarch64-linux)
  #   any other argument of mkAddonImages (strategy, libc, flavor, run, usePrebuilt, config, overlays, ...)
  # Returns { packages, apps, legacyPackages } per system: dockerImage-<arch>, streamImage-<arch>, addonix;
  # build-all-images, load-<arch>, addonix; ci (ciTools).
  mkAddonFlakeWith = defaultNixpkgs: { src, nixpkgs ? defaultNixpkgs, systems ? buildSystems, ... }@args:
    let
      imageArgs = builtins.removeAttrs args [ "src" "nixpkgs" "systems" ];
      pins = pinsFor defaultNixpkgs args;
      addon = generated src "addon";
      checked = if addon == null then fail "no nix/addon.generated.nix in the add-on folder: run `addonix generate`; in a git repository Nix sees only tracked files, so also git add nix/" else addon;
      perSystem = system:
        let
          pkgs = nixpkgs.legacyPackages.${system};
          built = mkAddonImages ({ inherit pkgs src nixpkgs; addon = checked; npmDeps = generated src "npm-deps"; } // imageArgs);
          cli = cliFor { inherit pkgs; };
        in
        {
          packages = built.packages // { addonix = cli; };
          apps = appsFor { inherit pkgs cli pins; inherit (built) streams; } // { addonix = { type = "app"; program = "${cli}/bin/addonix"; }; };
          legacyPackages = { ci = ciToolsFor pkgs; };
        };
      all = forSystems systems perSystem;
    in
    {
      packages = builtins.mapAttrs (_: outputs: outputs.packages) all;
      apps = builtins.mapAttrs (_: outputs: outputs.apps) all;
      legacyPackages = builtins.mapAttrs (_: outputs: outputs.legacyPackages) all;
    };

  # mkRepositoryFlake: the same for a repository of several add-ons; images are named
  # dockerImage-<slug>-<arch> and streamImage-<slug>-<arch>, load apps load-<slug>-<arch>.
  #
  # Arguments: src (the repository), addons (their folders relative to src), nixpkgs, systems, and any
  # argument of mkAddonImages, applied to every add-on. The add-ons share their package sets.
  mkRepositoryFlakeWith = defaultNixpkgs: { src, addons, nixpkgs ? defaultNixpkgs, systems ? buildSystems, ... }@args:
    let
      imageArgs = builtins.removeAttrs args [ "src" "addons" "nixpkgs" "systems" ];
      pins = pinsFor defaultNixpkgs args;
      perSystem = system:
        let
          pkgs = nixpkgs.legacyPackages.${system};
          sets = packageSetsFor { inherit pkgs nixpkgs; config = imageArgs.config or null; overlays = imageArgs.overlays or null; };
          cli = cliFor { inherit pkgs; };
          one = dir:
            let
              addonSrc = src + "/${dir}";
              addon = generated addonSrc "addon";
              checked = if addon == null then fail "no nix/addon.generated.nix in ${dir}: run `addonix generate ${dir}`" else addon;
              built = mkAddonImages ({ inherit pkgs nixpkgs; src = addonSrc; addon = checked; npmDeps = generated addonSrc "npm-deps"; packageSets = sets; } // imageArgs);
              slug = checked.slug;
            in
            {
              packages = util.concatMapAttrs (arch: image: { "dockerImage-${slug}-${arch}" = image; "streamImage-${slug}-${arch}" = built.streams.${arch}; }) built.images;
              loads = util.concatMapAttrs (arch: stream: { "load-${slug}-${arch}" = (appsFor { inherit pkgs cli; streams = { ${arch} = stream; }; }).${"load-${arch}"}; }) built.streams;
            };
          each = map one addons;
        in
        {
          packages = builtins.foldl' (acc: x: acc // x.packages) { addonix = cli; } each;
          apps = builtins.foldl' (acc: x: acc // x.loads) {
            inherit (appsFor { inherit pkgs cli pins; streams = { }; }) build-all-images;
            addonix = { type = "app"; program = "${cli}/bin/addonix"; };
          } each;
          legacyPackages = { ci = ciToolsFor pkgs; };
        };
      all = forSystems systems perSystem;
    in
    {
      packages = builtins.mapAttrs (_: outputs: outputs.packages) all;
      apps = builtins.mapAttrs (_: outputs: outputs.apps) all;
      legacyPackages = builtins.mapAttrs (_: outputs: outputs.legacyPackages) all;
    };
}
