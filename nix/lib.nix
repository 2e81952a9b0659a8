# The addonix Nix library: add-on images per arch from the data `addonix generate` writes.
# Everything here is plain Nix on builtins; nixpkgs comes in as the `pkgs` argument (or `nixpkgs` for
# the flake helpers), so the same functions run against real nixpkgs and against the tests' stand-in.
{ addonixSrc }:
let
  util = import ./util.nix;
  arches = import ./arches.nix;
  inherit (util) fail;

  targetPkgsFor = import ./target-pkgs.nix { inherit util arches; };
  nodeModulesFor = import ./node-modules.nix { inherit util arches; };
  appFor = import ./app.nix { inherit util; };
  imageFor = import ./image.nix { inherit util arches; };
  appsFor = import ./apps.nix { inherit util; };
  baseImageFor = import ./base-image.nix { inherit util; };
  cliFor = import ./cli.nix { inherit addonixSrc; };

  checkAddon = addon:
    if (addon.dataVersion or 0) != 1 then fail "the add-on data has dataVersion ${toString (addon.dataVersion or "none")}; this addonix reads version 1: run `addonix generate` again"
    else addon;

  # The command the image runs: `run` if given, else package.json's start script, else its main.
  commandFor = { run, packageJson, slug }:
    let
      start = if packageJson == null then null else packageJson.scripts.start or null;
      words = if start == null then [ ] else builtins.filter (word: builtins.isString word && word != "") (builtins.split "[ \t]+" start);
    in
    if run != null then run
    else if start != null && builtins.head words == "node" && builtins.match ".*[;&|<>$`\"'].*" start == null then [ "/bin/node" ] ++ builtins.tail words
    else if start != null then [ "/bin/sh" "-c" start ]
    else if packageJson != null && packageJson ? main then [ "/bin/node" packageJson.main ]
    else fail "add-on '${slug}': the image needs a command: give run = [ \"/bin/node\" \"main.js\" ] to mkAddonImages, or a start script or main in package.json";

  # mkAddonImages: one image per arch for one add-on.
  #
  # Arguments:
  #   pkgs           the build machine's nixpkgs (e.g. nixpkgs.legacyPackages.x86_64-linux)
  #   src            the add-on folder (a path)
  #   addon          import of the add-on's nix/addon.generated.nix
  #   npmDeps        import of nix/npm-deps.generated.nix, or null for an add-on without Node.js
  #   strategy       "cross" (default; no emulation) or "native" (the target system's own package set,
  #                  for remote builders or binfmt); see target-pkgs.nix
  #   libc           "musl" (default, like Home Assistant's Alpine base images) or "glibc"
  #   flavor         "nix" (default: only the Nix closure) or "base" (on top of the add-on's base image,
  #                  pinned by digest in nix/base-images.lock.nix, which `addonix pin-base` writes)
  #   baseImages     for flavor "base": { <arch> = docker-archive; } to use instead of the lock file's
  #   nodejs         picks Node.js from a package set (default: its `nodejs`)
  #   run            the command the container runs (default: package.json's start script, else main)
  #   extraContents  picks more packages for the image from the target's package set
  #   buildArches    the arches to build (default: the add-on's; riscv64 is built when listed here)
  #
  # Returns { images, streams, nodeModules, imageInfo, packages }: images.<arch> (buildLayeredImage),
  # streams.<arch> (streamLayeredImage), nodeModules.<arch> (null without Node.js), imageInfo.<arch>
  # (name, tag, architecture, variant, created, config: known without building), and packages with the
  # flake names dockerImage-<arch> and streamImage-<arch>.
  mkAddonImages =
    { pkgs
    , src
    , addon
    , npmDeps ? null
    , strategy ? "cross"
    , libc ? "musl"
    , flavor ? "nix"
    , baseImages ? null
    , nodejs ? (targetPkgs: targetPkgs.nodejs)
    , run ? null
    , extraContents ? (targetPkgs: [ ])
    , buildArches ? null
    }:
    let
      data = checkAddon addon;
      wanted = if buildArches != null then buildArches else data.archNames;
      appSrc = if data.app != null then src + "/${data.app.dir}" else src;
      packageJsonFile = appSrc + "/package.json";
      packageJson = if builtins.pathExists packageJsonFile then builtins.fromJSON (builtins.readFile packageJsonFile) else null;
      npm =
        if npmDeps != null then npmDeps
        else if data.app != null || packageJson != null then
          fail "add-on '${data.slug}' has a Node.js app (package.json) but no npm data: run `addonix generate` (it needs package-lock.json) and pass npmDeps = import ./nix/npm-deps.generated.nix"
        else null;
      command = commandFor { inherit run packageJson; inherit (data) slug; };
      baseLockFile = src + "/nix/base-images.lock.nix";
      baseLock = if builtins.pathExists baseLockFile then import baseLockFile else null;
      baseImageOf = arch:
        if flavor != "base" then null
        else if baseImages != null then baseImages.${arch} or (fail "baseImages has no image for ${arch}")
        else baseImageFor { inherit pkgs arch; lock = baseLock; inherit (data) slug; };
      perArch = arch:
        let
          known = arches ? ${arch} || fail "add-on '${data.slug}' lists arch '${arch}', which addonix does not know; the arches are ${builtins.concatStringsSep ", " (builtins.attrNames arches)}";
          inData = data.arches ? ${arch} || fail "add-on '${data.slug}': the generated data has no arch '${arch}' (it has ${builtins.concatStringsSep ", " data.archNames}); add it to config.yaml and run `addonix generate`${util.optionalString (arch == "riscv64") " --riscv64 (riscv64 is opt-in: Home Assistant does not run it)"}";
          targetPkgs = targetPkgsFor { inherit pkgs arch libc strategy; };
          target = "${arch}-${libc}";
          node = if npm != null || packageJson != null then nodejs targetPkgs else null;
          nodeModules =
            if npm == null then null
            else nodeModulesFor { inherit targetPkgs target; npmDeps = npm; inherit appSrc; nodejs = node; name = "${data.slug}-node-modules-${target}"; };
          app = appFor { buildPkgs = pkgs; src = appSrc; isAddonRoot = data.app == null || data.app.dir == "."; inherit nodeModules; name = "${data.slug}-app-${target}"; };
          built = imageFor {
            inherit pkgs targetPkgs arch app command flavor;
            addon = data;
            nodejs = node;
            baseImage = baseImageOf arch;
            extraContents = extraContents targetPkgs;
          };
        in
        # The arch is checked before anything of it is used: a clear message, not a missing attribute.
        builtins.seq known (builtins.seq inData { inherit nodeModules app; inherit (built) stream image info; });
      results = util.genAttrs wanted perArch;
    in
    {
      images = builtins.mapAttrs (_: result: result.image) results;
      streams = builtins.mapAttrs (_: result: result.stream) results;
      nodeModules = builtins.mapAttrs (_: result: result.nodeModules) results;
      imageInfo = builtins.mapAttrs (_: result: result.info) results;
      packages = util.concatMapAttrs (arch: result: { "dockerImage-${arch}" = result.image; "streamImage-${arch}" = result.stream; }) results;
    };

  buildSystems = [ "x86_64-linux" "aarch64-linux" ];
  forSystems = systems: f: builtins.listToAttrs (map (system: { name = system; value = f system; }) systems);

  # The add-on's generated data, read from its folder.
  generated = src: name: let file = src + "/nix/${name}.generated.nix"; in if builtins.pathExists file then import file else null;

  # prebuilds-better-sqlite3-<arch>: better-sqlite3 compiled for musl, for Alpine users, in both forms
  # its versions load: v12 and older via prebuild-install (tarballs named
  # better-sqlite3-v<version>-node-v<abi>-linuxmusl-<cpu>.tar.gz holding build/Release/better_sqlite3.node,
  # for npm_config_better_sqlite3_local_prebuilds), v13 via prebuilds/linuxmusl-<cpu>.node.
  # The headers are the build machine's Node.js (headers do not depend on the arch; this saves
  # compiling Node.js for every musl target), whose NODE_MODULE_VERSION names the v12 tarball.
  prebuildsFor = { pkgs, arch }:
    let
      target = "${arch}-musl";
      targetPkgs = targetPkgsFor { inherit pkgs arch; libc = "musl"; strategy = "cross"; };
      compiled = major:
        let dir = ./prebuilds + "/better-sqlite3-v${major}"; npmDeps = import (dir + "/nix/npm-deps.generated.nix"); in {
          version = npmDeps.packages."node_modules/better-sqlite3".version;
          nodeModules = nodeModulesFor { inherit targetPkgs target npmDeps; appSrc = dir; nodejs = pkgs.nodejs; name = "better-sqlite3-v${major}-${target}"; };
        };
      v12 = compiled "12";
      v13 = compiled "13";
      cpu = arches.${arch}.npmCpu;
    in
    pkgs.runCommand "prebuilds-better-sqlite3-${arch}" { } ''
      abi=$(sed -n 's/^#define NODE_MODULE_VERSION \([0-9][0-9]*\).*/\1/p' ${pkgs.nodejs}/include/node/node_version.h)
      [ -n "$abi" ] || { echo "NODE_MODULE_VERSION not found in the Node.js headers" >&2; exit 1; }
      mkdir -p stage/build/Release "$out/better-sqlite3-v${v13.version}/prebuilds"
      cp ${v12.nodeModules}/node_modules/better-sqlite3/build/Release/better_sqlite3.node stage/build/Release/
      tar --sort=name --mtime=@1 --owner=0 --group=0 --numeric-owner -C stage -cf - build | gzip -9n > "$out/better-sqlite3-v${v12.version}-node-v$abi-linuxmusl-${cpu}.tar.gz"
      cp ${v13.nodeModules}/node_modules/better-sqlite3/build/Release/better_sqlite3.node "$out/better-sqlite3-v${v13.version}/prebuilds/linuxmusl-${cpu}.node"
    '';
in
{
  inherit arches mkAddonImages prebuildsFor;

  # The addonix CLI package for a package set.
  cli = pkgs: cliFor { inherit pkgs; };

  # mkAddonFlake: the outputs of an add-on repository's own flake (what `addonix init` writes calls).
  #
  # Arguments:
  #   src       the add-on folder (usually ./.)
  #   nixpkgs   the nixpkgs flake (default: the one addonix pins)
  #   systems   build systems (default: x86_64-linux and aarch64-linux)
  #   any other argument of mkAddonImages (strategy, libc, flavor, run, ...)
  # Returns { packages, apps } per system: dockerImage-<arch>, streamImage-<arch>, addonix;
  # build-all-images, load-<arch>, addonix.
  mkAddonFlakeWith = defaultNixpkgs: { src, nixpkgs ? defaultNixpkgs, systems ? buildSystems, ... }@args:
    let
      imageArgs = builtins.removeAttrs args [ "src" "nixpkgs" "systems" ];
      addon = generated src "addon";
      checked = if addon == null then fail "no nix/addon.generated.nix in the add-on folder: run `addonix generate` and commit its files" else addon;
      perSystem = system:
        let
          pkgs = nixpkgs.legacyPackages.${system};
          built = mkAddonImages ({ inherit pkgs src; addon = checked; npmDeps = generated src "npm-deps"; } // imageArgs);
          cli = cliFor { inherit pkgs; };
        in
        {
          packages = built.packages // { addonix = cli; };
          apps = appsFor { inherit pkgs cli; inherit (built) streams; } // { addonix = { type = "app"; program = "${cli}/bin/addonix"; }; };
        };
      all = forSystems systems perSystem;
    in
    {
      packages = builtins.mapAttrs (_: outputs: outputs.packages) all;
      apps = builtins.mapAttrs (_: outputs: outputs.apps) all;
    };

  # mkRepositoryFlake: the same for a repository of several add-ons; images are named
  # dockerImage-<slug>-<arch> and streamImage-<slug>-<arch>, load apps load-<slug>-<arch>.
  #
  # Arguments: src (the repository), addons (their folders relative to src), nixpkgs, systems, and any
  # argument of mkAddonImages, applied to every add-on.
  mkRepositoryFlakeWith = defaultNixpkgs: { src, addons, nixpkgs ? defaultNixpkgs, systems ? buildSystems, ... }@args:
    let
      imageArgs = builtins.removeAttrs args [ "src" "addons" "nixpkgs" "systems" ];
      perSystem = system:
        let
          pkgs = nixpkgs.legacyPackages.${system};
          cli = cliFor { inherit pkgs; };
          one = dir:
            let
              addonSrc = src + "/${dir}";
              addon = generated addonSrc "addon";
              checked = if addon == null then fail "no nix/addon.generated.nix in ${dir}: run `addonix generate ${dir}`" else addon;
              built = mkAddonImages ({ inherit pkgs; src = addonSrc; addon = checked; npmDeps = generated addonSrc "npm-deps"; } // imageArgs);
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
            build-all-images = { type = "app"; program = "${pkgs.writeShellScript "build-all-images" "exec ${cli}/bin/addonix build --all \"$@\""}"; };
            addonix = { type = "app"; program = "${cli}/bin/addonix"; };
          } each;
        };
      all = forSystems systems perSystem;
    in
    {
      packages = builtins.mapAttrs (_: outputs: outputs.packages) all;
      apps = builtins.mapAttrs (_: outputs: outputs.apps) all;
    };
}
